"""Starting and stopping the local stack in-process (with its schedules and faults) leaves
the process as it was."""

from __future__ import annotations

import copy
import os
import socket
import threading
import time

import pytest
from moto.awslambda.models import LambdaFunction
from moto.core.config import default_user_config
from moto.dynamodb.models import DynamoDBBackend
from moto.sqs.models import SQSBackend
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

import local.stack
from handlers.faults import FaultPlan, FaultPoint
from local.errors import PortInUseError
from local.stack import LocalStack, LocalStackOptions

# Methods the stack replaces while it runs (in-process Lambdas, atomic writes, faults).
PATCHED = [
    (LambdaFunction, "_invoke_lambda"),
    (DynamoDBBackend, "put_item"),
    (StepFunctionsParserBackend, "start_execution"),
    (SQSBackend, "send_message"),
]


def _threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.is_alive()}


def _settles_to(expected: set[str], timeout: float = 15.0) -> set[str]:
    deadline = time.monotonic() + timeout
    while _threads() - expected and time.monotonic() < deadline:
        time.sleep(0.1)
    return _threads() - expected


def _scheduled_runs(stack: LocalStack, function_name: str) -> int:
    return sum(
        1
        for i in list(stack.runtime.invocations)
        if i.function_name == function_name and i.event.get("detail-type") == "Scheduled Event"
    )


def test_stop_ends_every_thread_and_restores_the_process() -> None:
    threads_before = _threads()
    environment_before = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "MOTO_PORT", "DOFS_FAULTS")}
    methods_before = [getattr(owner, name) for owner, name in PATCHED]
    moto_config_before = copy.deepcopy(default_user_config)
    options = LocalStackOptions(
        api_port=0, aws_port=0, faults=FaultPlan(rates={FaultPoint.ENQUEUE: 0.0}), schedule_every_seconds=0.2
    )

    stack = LocalStack(options).start()
    assert stack.pollers and all(p.is_alive() for p in stack.pollers)
    assert stack.schedules and all(s.is_alive() for s in stack.schedules)
    deadline = time.monotonic() + 10
    while _scheduled_runs(stack, "dofs-reconciler-dev") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    runs = _scheduled_runs(stack, "dofs-reconciler-dev")
    stack.stop()

    assert runs >= 2
    assert _settles_to(threads_before) == set()
    assert {k: os.environ.get(k) for k in environment_before} == environment_before
    assert [getattr(owner, name) for owner, name in PATCHED] == methods_before
    assert default_user_config == moto_config_before  # e.g. the Step Functions interpreter


def test_a_port_taken_between_the_check_and_the_bind_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local.stack, "ensure_port_free", lambda port, option: None)
    threads_before = _threads()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        with pytest.raises(
            PortInUseError, match=f"port {port} is already in use; choose another with --aws-port"
        ):
            LocalStack(LocalStackOptions(api_port=0, aws_port=port)).start()

    assert _settles_to(threads_before) == set()
