"""The real definition run as an EXPRESS workflow (prod's type), held to AWS's rules by
local/express_fidelity.py: ARNs of the express form, nothing described or listed, names
not de-duplicated. A second execution of one order (an at-least-once rerun, a restart)
must change nothing and fulfil nothing twice.

AWS answers no question about an EXPRESS execution, so these tests wait on what DOFS
writes (the order, the queue) and read how each execution ended from the emulator's own
record of it, never through the Step Functions API.
"""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from handlers.errors import OrderAlreadyFinalError
from handlers.models import DUE_AT, IN_FLIGHT_SHARD, in_flight_shard
from local.express_fidelity import is_express_execution_arn
from tests.workflow.conftest import Pipeline
from tests.workflow.test_order_workflow import _drain_once, _set_success_rate

HAPPY_PATH = ["ValidateOrder", "IsOrderValid", "StoreOrder", "EnqueueForFulfillment"]
# Rewritten by a second store of an order still pending; everything else stays.
RESTORED_FIELDS = {"updated_at", "validated_at"}


def _emulated_executions(pipeline: Pipeline) -> list[Any]:
    """The emulator's record of the state machine's executions, oldest first."""
    machine_arn = pipeline.run.outputs["state_machine_arn"]
    region, account = machine_arn.split(":")[3:5]
    backend = stepfunctions_parser_backends[account][region]
    return list(backend.describe_state_machine(machine_arn).executions)


def _finished_executions(pipeline: Pipeline, count: int, timeout: float = 30.0) -> list[Any]:
    """Wait until ``count`` executions exist and none is running; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        executions = _emulated_executions(pipeline)
        if len(executions) == count and all(e.status != "RUNNING" for e in executions):
            return executions
        assert time.monotonic() < deadline, [(e.exec_arn, e.status) for e in executions]
        time.sleep(0.05)


def _states_entered(execution: Any) -> list[str]:
    events = execution.to_history_output()["events"]
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def _queue_depth(pipeline: Pipeline) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=pipeline.run.outputs["order_queue_url"], AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def _fulfil_everything_queued(pipeline: Pipeline) -> int:
    _set_success_rate("dofs-fulfill-order-dev", "1")
    delivered = 0
    while seen := _drain_once(pipeline, "order_queue_url", "dofs-fulfill-order-dev"):
        delivered += seen
        assert delivered <= 10, "the order queue never emptied"
    return delivered


def _start_again(pipeline: Pipeline, first: Any) -> str:
    """A second execution of the same order: same name, same input (as AWS may rerun it)."""
    started = boto3.client("stepfunctions").start_execution(
        stateMachineArn=pipeline.run.outputs["state_machine_arn"],
        name=first.name,
        input=first.execution_input,
    )
    return str(started["executionArn"])


def test_an_express_execution_stores_and_enqueues_the_order(
    express_pipeline: Pipeline, valid_order: dict[str, Any]
) -> None:
    accepted = express_pipeline.post_order(valid_order)

    assert is_express_execution_arn(accepted["execution_arn"])
    (execution,) = _finished_executions(express_pipeline, 1)
    assert execution.exec_arn == accepted["execution_arn"]
    assert execution.status == "SUCCEEDED"
    assert _states_entered(execution) == HAPPY_PATH
    order = express_pipeline.order(accepted["order_id"])
    assert order["status"] == "PENDING_FULFILLMENT"
    assert "validated_at" in order and "request_body" not in order
    assert order[IN_FLIGHT_SHARD] == in_flight_shard(accepted["order_id"])
    messages = express_pipeline.queued_messages()
    assert [json.loads(m["Body"])["order_id"] for m in messages] == [accepted["order_id"]]


def test_aws_answers_no_question_about_an_express_execution(
    express_pipeline: Pipeline, valid_order: dict[str, Any]
) -> None:
    accepted = express_pipeline.post_order(valid_order)
    _finished_executions(express_pipeline, 1)
    client = boto3.client("stepfunctions")

    for call, arguments, code in [
        (client.describe_execution, {"executionArn": accepted["execution_arn"]}, "InvalidArn"),
        (client.get_execution_history, {"executionArn": accepted["execution_arn"]}, "InvalidArn"),
        (
            client.list_executions,
            {"stateMachineArn": express_pipeline.run.outputs["state_machine_arn"]},
            "StateMachineTypeNotSupported",
        ),
    ]:
        with pytest.raises(ClientError) as raised:
            call(**arguments)
        assert raised.value.response["Error"]["Code"] == code, call


def test_a_second_execution_of_a_pending_order_changes_nothing_and_it_is_fulfilled_once(
    express_pipeline: Pipeline, valid_order: dict[str, Any]
) -> None:
    accepted = express_pipeline.post_order(valid_order)
    (first,) = _finished_executions(express_pipeline, 1)
    stored = express_pipeline.order(accepted["order_id"])

    second_arn = _start_again(express_pipeline, first)

    assert second_arn != first.exec_arn  # not de-duplicated: it runs again
    _, second = _finished_executions(express_pipeline, 2)
    assert (second.exec_arn, second.status) == (second_arn, "SUCCEEDED")
    assert _states_entered(second) == HAPPY_PATH  # stored again (still pending), sent again
    again = express_pipeline.order(accepted["order_id"])
    assert {k: v for k, v in again.items() if k not in RESTORED_FIELDS} == {
        k: v for k, v in stored.items() if k not in RESTORED_FIELDS
    }
    assert again[DUE_AT] == stored[DUE_AT]
    assert _queue_depth(express_pipeline) == 2

    assert _fulfil_everything_queued(express_pipeline) == 2
    fulfilled = express_pipeline.order(accepted["order_id"])
    assert fulfilled["status"] == "FULFILLED"
    assert fulfilled["fulfillment_attempts"] == 1
    assert express_pipeline.failed_record(accepted["order_id"]) is None


def test_a_second_execution_of_an_order_already_fulfilled_ends_quietly(
    express_pipeline: Pipeline, valid_order: dict[str, Any]
) -> None:
    accepted = express_pipeline.post_order(valid_order)
    (first,) = _finished_executions(express_pipeline, 1)
    assert _fulfil_everything_queued(express_pipeline) == 1
    fulfilled = express_pipeline.order(accepted["order_id"])
    assert fulfilled["status"] == "FULFILLED"

    _start_again(express_pipeline, first)

    _, second = _finished_executions(express_pipeline, 2)
    assert second.status == "SUCCEEDED"
    assert _states_entered(second) == [*HAPPY_PATH[:3], "OrderAlreadyProgressed"]
    assert express_pipeline.order(accepted["order_id"]) == fulfilled
    assert _queue_depth(express_pipeline) == 0
    assert express_pipeline.failed_record(accepted["order_id"]) is None
    storage_errors = [
        i.error_type
        for i in express_pipeline.runtime.invocations
        if i.function_name == "dofs-order-storage-dev"
    ]
    assert storage_errors == [None, OrderAlreadyFinalError.__name__]
