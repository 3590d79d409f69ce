"""The local stack as a developer starts it (``python -m local run``), in a subprocess on
free ports, driven over real HTTP and inspected through the emulator's AWS APIs."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.client import BaseClient

from handlers.models import TERMINAL_STATUSES, parse_json_decimal
from local.console import queue_depth
from local.pulumi_runner import PROJECT_ROOT

START_DEADLINE_SECONDS = 90.0
# A bound, not a wait: on a loaded machine (make test runs tiers side by side) a stop is slower.
STOP_DEADLINE_SECONDS = 60.0
# Tests shorten the fulfil timeout so that a retry (6x it, the queue's visibility) takes
# 6 s instead of the dev stack's 30 s.
FAST_RETRIES = {"dofs:fulfillTimeoutSeconds": "1"}


@dataclass
class HttpResult:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def http(method: str, url: str, body: Any = None, headers: Mapping[str, str] | None = None) -> HttpResult:
    data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None and not request.has_header("Content-type"):  # urllib's capitalisation
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw, status, got = response.read(), response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        raw, status, got = error.read(), error.code, dict(error.headers)
    return HttpResult(status, parse_json_decimal(raw.decode()) if raw else None, got)


def wait_until(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not {what} after {timeout}s")
        time.sleep(0.1)


def wait_for_terminal(api_url: str, order_id: str, timeout: float = 60.0) -> dict[str, Any]:
    """``GET /orders/{order_id}`` until the order is final, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = http("GET", f"{api_url}/orders/{order_id}")
        assert result.status == 200, result
        if result.body["status"] in TERMINAL_STATUSES:
            order: dict[str, Any] = result.body
            return order
        if time.monotonic() > deadline:
            raise AssertionError(f"order {order_id} still {result.body['status']} after {timeout}s")
        time.sleep(0.2)


class StackProcess:
    def __init__(self, tmp: Path, config: Mapping[str, str], stack: str = "dev") -> None:
        self.outputs_file = tmp / "outputs.json"
        self.log_file = tmp / "local.log"
        self.console_file = tmp / "console.txt"
        arguments = ["--port", "0", "--aws-port", "0", "--console-port", "0", "--stack", stack]
        arguments += ["--outputs-file", str(self.outputs_file), "--log-file", str(self.log_file)]
        for key, value in config.items():
            arguments += ["--config", f"{key}={value}"]
        self.arguments = arguments
        self.process: subprocess.Popen[bytes] | None = None
        self.outputs: dict[str, Any] = {}

    def start(self) -> StackProcess:
        with self.console_file.open("wb") as console:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "local", "run", *self.arguments],
                cwd=PROJECT_ROOT,
                stdout=console,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_DEADLINE_SECONDS
        while not self.outputs_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"local stack did not start:\n{self.console}")
            time.sleep(0.1)
        self.outputs = json.loads(self.outputs_file.read_text())
        return self

    @property
    def console(self) -> str:
        return self.console_file.read_text(errors="replace")

    def stop(self) -> int | None:
        """Ctrl-C, as a developer would; returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=STOP_DEADLINE_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError(f"local stack ignored Ctrl-C:\n{self.console}") from None
        return self.process.returncode

    @property
    def api_url(self) -> str:
        return str(self.outputs["api_url"])

    def client(self, service: str) -> BaseClient:
        return boto3.client(
            service,
            endpoint_url=self.outputs["aws_endpoint"],
            region_name="ap-south-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def place_order(self, body: Any, headers: Mapping[str, str] | None = None) -> str:
        result = http("POST", f"{self.api_url}/order", body, headers)
        assert result.status == 202, result
        return str(result.body["order_id"])

    def wait_for_terminal(self, order_id: str, timeout: float = 60.0) -> dict[str, Any]:
        return wait_for_terminal(self.api_url, order_id, timeout)

    def table_item(self, output_name: str, order_id: str) -> dict[str, Any] | None:
        table = boto3.resource(
            "dynamodb",
            endpoint_url=self.outputs["aws_endpoint"],
            region_name="ap-south-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        ).Table(self.outputs[output_name])
        item: dict[str, Any] | None = table.get_item(Key={"order_id": order_id}).get("Item")
        return item

    def queue_depth(self, output_name: str) -> int:
        return queue_depth(self.client("sqs"), self.outputs[output_name])
