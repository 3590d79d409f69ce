"""The state machine exactly as the program generates it, executed by moto."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from local.lambda_runtime import InProcessLambdaRuntime
from local.recorded_program import ProgramRun, record_program
from tests.support.emulator import in_process_emulator, provision, wait_for_execution


@pytest.fixture(scope="module")
def program() -> ProgramRun:
    return record_program("dev")


@dataclass
class Pipeline:
    run: ProgramRun
    runtime: InProcessLambdaRuntime

    def post_order(self, body: Any) -> dict[str, Any]:
        event = {
            "httpMethod": "POST",
            "path": "/order",
            "resource": "/order",
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps(body),
            "requestContext": {"stage": "dev", "domainName": "api.test"},
        }
        response = self.invoke("dofs-api-handler-dev", event)
        assert response["statusCode"] == 202, response
        accepted: dict[str, Any] = json.loads(response["body"])
        return accepted

    def invoke(self, function_name: str, event: Any) -> Any:
        payload = boto3.client("lambda").invoke(FunctionName=function_name, Payload=json.dumps(event))
        return json.loads(payload["Payload"].read())

    def run_order(self, body: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        accepted = self.post_order(body)
        return accepted, wait_for_execution(accepted["execution_arn"])

    def run_without_the_api(self, order_id: str, body: Any) -> dict[str, Any]:
        """Start an execution directly, as a body that bypassed the API's checks would
        reach the workflow: the workflow validates again and must record the rejection."""
        started = boto3.client("stepfunctions").start_execution(
            stateMachineArn=self.run.outputs["state_machine_arn"],
            name=order_id,
            input=json.dumps({"order_id": order_id, "request_body": json.dumps(body)}),
        )
        return wait_for_execution(started["executionArn"])

    def configure(self, function_name: str, changes: dict[str, str]) -> None:
        """Change some of a function's environment variables (only ones it already has)."""
        client = boto3.client("lambda")
        variables = client.get_function_configuration(FunctionName=function_name)["Environment"]["Variables"]
        assert set(changes) <= set(variables), (
            f"{function_name} has no {sorted(set(changes) - set(variables))}"
        )
        client.update_function_configuration(
            FunctionName=function_name, Environment={"Variables": {**variables, **changes}}
        )

    def cut_deadlines(self) -> None:
        """Every deadline to a second: orders recorded from now on are due a second after the
        API took them (or StartExecution refused them), and each reconciler claim moves an
        order's deadline on by a second. An order carries its deadline, so cut before posting."""
        self.configure(
            "dofs-api-handler-dev", {"ORDER_DUE_SECONDS": "1", "RECONCILE_RECEIVED_AFTER_SECONDS": "1"}
        )
        self.configure(
            "dofs-reconciler-dev",
            {"RECONCILE_RECEIVED_AFTER_SECONDS": "1", "RECONCILE_PENDING_AFTER_SECONDS": "1"},
        )

    def reconcile_until(self, action: str, timeout: float = 15.0) -> dict[str, int]:
        """Run the reconciler λ until it reports ``action`` (after ``cut_deadlines``)."""
        function_name = "dofs-reconciler-dev"
        deadline = time.monotonic() + timeout
        while True:
            summary: dict[str, int] = self.invoke(function_name, {"source": "aws.events"})
            if summary.get(action):
                return summary
            assert time.monotonic() < deadline, f"the reconciler never reported {action}: {summary}"
            time.sleep(0.2)

    def order(self, order_id: str) -> dict[str, Any]:
        table = boto3.resource("dynamodb").Table(self.run.outputs["orders_table_name"])
        item: dict[str, Any] = table.get_item(Key={"order_id": order_id})["Item"]
        return item

    def failed_record(self, order_id: str) -> dict[str, Any] | None:
        table = boto3.resource("dynamodb").Table(self.run.outputs["failed_orders_table_name"])
        item: dict[str, Any] | None = table.get_item(Key={"order_id": order_id}).get("Item")
        return item

    def queued_messages(self, output: str = "order_queue_url") -> list[dict[str, Any]]:
        response = boto3.client("sqs").receive_message(
            QueueUrl=self.run.outputs[output], MaxNumberOfMessages=10, WaitTimeSeconds=0
        )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages


@contextlib.contextmanager
def _provisioned(program: ProgramRun) -> Iterator[Pipeline]:
    with in_process_emulator(), InProcessLambdaRuntime() as runtime:
        provision(program)
        yield Pipeline(program, runtime)


@pytest.fixture
def pipeline(program: ProgramRun) -> Iterator[Pipeline]:
    with _provisioned(program) as provisioned:
        yield provisioned


@pytest.fixture(scope="module")
def express_program() -> ProgramRun:
    """dev's program with prod's workflow type: the same names, an EXPRESS state machine."""
    return record_program("dev", {"dofs:workflowType": "EXPRESS"})


@pytest.fixture
def express_pipeline(express_program: ProgramRun) -> Iterator[Pipeline]:
    with _provisioned(express_program) as provisioned:
        yield provisioned
