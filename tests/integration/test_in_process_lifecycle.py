"""Starting and stopping the local stack in-process leaves the process as it was."""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest
from moto.awslambda.models import LambdaFunction

import local.stack
from local.errors import PortInUseError
from local.stack import LocalStack, LocalStackOptions


def _threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.is_alive()}


def _settles_to(expected: set[str], timeout: float = 15.0) -> set[str]:
    deadline = time.monotonic() + timeout
    while _threads() - expected and time.monotonic() < deadline:
        time.sleep(0.1)
    return _threads() - expected


def test_stop_ends_every_thread_and_restores_the_process() -> None:
    threads_before = _threads()
    environment_before = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "MOTO_PORT")}
    invoker_before = LambdaFunction._invoke_lambda

    stack = LocalStack(LocalStackOptions(api_port=0, aws_port=0)).start()
    assert stack.pollers and all(p.is_alive() for p in stack.pollers)
    stack.stop()

    assert _settles_to(threads_before) == set()
    assert {k: os.environ.get(k) for k in environment_before} == environment_before
    assert LambdaFunction._invoke_lambda is invoker_before


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
