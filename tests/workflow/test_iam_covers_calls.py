"""Every AWS call a handler makes is allowed by its own function's IAM policy.

The infra tier checks the policies against a list; this checks them against what the
real handler code does, so a new call without a grant fails here, not on AWS.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from unittest import mock

import pytest
from botocore.client import BaseClient
from botocore.exceptions import EndpointConnectionError

from handlers import aws
from handlers.models import execution_arn_of
from local.recorded_program import ProgramRun
from tests.conftest import load_fixture
from tests.support.emulator import wait_for_execution
from tests.workflow.conftest import Pipeline
from tests.workflow.test_order_workflow import _drain_once, _set_success_rate


@dataclass(frozen=True)
class AwsCall:
    function_name: str
    action: str
    resource: str


def _resource_arn(run: ProgramRun, params: dict[str, Any]) -> str:
    if "TableName" in params:
        tables = {t.inputs["name"]: t.outputs["arn"] for t in run.of_type("aws:dynamodb/table:Table")}
        index = f"/index/{params['IndexName']}" if "IndexName" in params else ""
        return str(tables[params["TableName"]]) + index
    if "executionArn" in params:
        return str(params["executionArn"])
    if "stateMachineArn" in params:
        return str(params["stateMachineArn"])
    if "QueueUrl" in params:
        queues = {q.outputs["url"]: q.outputs["arn"] for q in run.of_type("aws:sqs/queue:Queue")}
        return str(queues[params["QueueUrl"]])
    raise AssertionError(f"no resource in {sorted(params)}")


@pytest.fixture
def calls(pipeline: Pipeline) -> Iterator[list[AwsCall]]:
    recorded: list[AwsCall] = []
    original = BaseClient._make_api_call

    def tracing(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        function_name = pipeline.runtime.current_function
        if function_name is not None:
            prefix = client.meta.service_model.signing_name
            resource = _resource_arn(pipeline.run, params)
            recorded.append(AwsCall(function_name, f"{prefix}:{operation}", resource))
        return original(client, operation, params)

    with mock.patch.object(BaseClient, "_make_api_call", tracing):
        yield recorded


def _allowed(policy: dict[str, Any], call: AwsCall) -> bool:
    return any(
        statement["Effect"] == "Allow"
        and call.action in statement["Action"]
        and any(fnmatch.fnmatchcase(call.resource, pattern) for pattern in statement["Resource"])
        for statement in policy["Statement"]
    )


EXPECTED_CALLS = {
    ("api-handler", "dynamodb:GetItem"),
    ("api-handler", "dynamodb:PutItem"),
    ("api-handler", "dynamodb:UpdateItem"),
    ("api-handler", "states:StartExecution"),
    ("order-storage", "dynamodb:PutItem"),
    ("order-storage", "dynamodb:UpdateItem"),
    ("fulfill-order", "dynamodb:GetItem"),
    ("fulfill-order", "dynamodb:UpdateItem"),
    ("dlq-processor", "dynamodb:GetItem"),
    ("dlq-processor", "dynamodb:PutItem"),
    ("dlq-processor", "dynamodb:UpdateItem"),
    ("reconciler", "dynamodb:Query"),
    ("reconciler", "dynamodb:GetItem"),
    ("reconciler", "dynamodb:UpdateItem"),
    ("reconciler", "states:StartExecution"),
    ("reconciler", "sqs:SendMessage"),
    ("reconciler", "sqs:GetQueueAttributes"),
}


class UnreachableStepFunctions:
    def start_execution(self, **kwargs: Any) -> Any:
        raise EndpointConnectionError(endpoint_url="https://states.invalid")


def _exercise_every_path(pipeline: Pipeline, order: dict[str, Any]) -> None:
    accepted, _ = pipeline.run_order(order)
    pipeline.run_order(load_fixture("order_with_wrong_total.json"))
    get_event = {"httpMethod": "GET", "path": f"/orders/{accepted['order_id']}", "headers": {}}
    assert pipeline.invoke("dofs-api-handler-dev", get_event)["statusCode"] == 200
    _set_success_rate("dofs-fulfill-order-dev", "0")
    while _drain_once(pipeline, "order_queue_url", "dofs-fulfill-order-dev"):
        pass
    _drain_once(pipeline, "order_dlq_url", "dofs-dlq-processor-dev")
    _set_success_rate("dofs-fulfill-order-dev", "1")
    pipeline.run_order(order)
    _drain_once(pipeline, "order_queue_url", "dofs-fulfill-order-dev")
    # A workflow that cannot start: accepted all the same (its deadline brought forward),
    # and the reconciler starts it, then (with its deadlines cut to a second) re-enqueues it
    # once its message is lost (received, never acknowledged) and the queue has no backlog.
    pipeline.cut_deadlines()
    with mock.patch.object(aws, "stepfunctions_client", UnreachableStepFunctions):
        keyless = {"httpMethod": "POST", "path": "/order", "headers": {"Content-Type": "application/json"}}
        response = pipeline.invoke("dofs-api-handler-dev", {**keyless, "body": json.dumps(order)})
    assert response["statusCode"] == 202
    pipeline.reconcile_until("started")
    order_id = json.loads(response["body"])["order_id"]
    wait_for_execution(execution_arn_of(pipeline.run.outputs["state_machine_arn"], order_id))
    assert len(pipeline.queued_messages()) == 1
    pipeline.reconcile_until("enqueued")


def test_every_handler_call_is_granted_to_that_function(
    pipeline: Pipeline, calls: list[AwsCall], valid_order: dict[str, Any]
) -> None:
    _exercise_every_path(pipeline, valid_order)

    observed = {
        (call.function_name.removeprefix("dofs-").removesuffix("-dev"), call.action) for call in calls
    }
    assert observed == EXPECTED_CALLS, "the scenario no longer exercises every handler path"
    denied = {call for call in calls if not _allowed(pipeline.run.policy_of(call.function_name), call)}
    assert denied == set()
