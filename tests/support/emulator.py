"""The program's resources inside moto's in-process mock, and waiting on executions."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
from moto import mock_aws
from moto.core.config import DefaultConfig

from local.emulator_fidelity import atomic_conditional_writes
from local.emulator_mocks import EmulatorMocks
from local.express_fidelity import express_workflows_as_on_aws
from local.pulumi_runner import run_program, stack_config
from local.recorded_program import ProgramRun

MOTO_CONFIG: DefaultConfig = {"stepfunctions": {"execute_state_machine": True}}


@contextlib.contextmanager
def in_process_emulator() -> Iterator[None]:
    """moto's in-process mock, behaving as the local stack's emulator does: the Step
    Functions interpreter on, conditional writes and execution names atomic, EXPRESS
    workflows as strict as on AWS."""
    with mock_aws(config=MOTO_CONFIG), atomic_conditional_writes(), express_workflows_as_on_aws():
        yield


def provision(run: ProgramRun) -> dict[str, Any]:
    """Create what ``run`` declares in the active in-process moto mock, the way the local
    stack does (the program again, under ``EmulatorMocks``); returns the program's outputs,
    which must be the recorded run's."""
    region = stack_config(run.stack).get("aws:region", "us-east-1")
    outputs = run_program(EmulatorMocks(None, region), run.stack, run.overrides)
    differing = {k for k in outputs.keys() - {"api_url"} if outputs[k] != run.outputs[k]}
    assert not differing, f"emulator and recording mocks disagree on {sorted(differing)}"
    return outputs


def wait_for_execution(
    execution_arn: str, timeout_seconds: float = 30.0, client: Any = None
) -> dict[str, Any]:
    """Poll DescribeExecution until the execution leaves RUNNING, or fail at the deadline."""
    client = client or boto3.client("stepfunctions")
    deadline = time.monotonic() + timeout_seconds
    while True:
        described: dict[str, Any] = client.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return described
        if time.monotonic() > deadline:
            raise AssertionError(f"execution {execution_arn} still RUNNING after {timeout_seconds}s")
        time.sleep(0.05)


def execution_history(execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = boto3.client("stepfunctions").get_execution_history(
        executionArn=execution_arn
    )["events"]
    return events


def json_body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])
