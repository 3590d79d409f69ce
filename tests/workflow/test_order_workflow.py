"""Orders through API handler → Step Functions → DynamoDB/SQS, on moto's interpreter."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import boto3

from handlers.errors import TransientStorageError
from tests.conftest import load_fixture
from tests.support.emulator import execution_history, wait_for_execution
from tests.workflow.conftest import Pipeline


def _failed_task_errors(execution_arn: str) -> list[str]:
    return [
        event["taskFailedEventDetails"]["error"]
        for event in execution_history(execution_arn)
        if event["type"] == "TaskFailed"
    ]


def test_valid_order_is_stored_and_enqueued(pipeline: Pipeline, valid_order: dict[str, Any]) -> None:
    accepted, execution = pipeline.run_order(valid_order)

    assert execution["status"] == "SUCCEEDED"
    order = pipeline.order(accepted["order_id"])
    assert order["status"] == "PENDING_FULFILLMENT"
    assert "validated_at" in order and "request_body" not in order  # one write: typed in, raw out
    assert order["due_at"] > order["validated_at"]  # still in flight, due after its whole trip
    assert order["total_amount"] == Decimal("60.08")
    assert [item["price"] for item in order["items"]] == [Decimal("29.99"), Decimal("0.10")]
    messages = pipeline.queued_messages()
    assert [json.loads(m["Body"])["order_id"] for m in messages] == [accepted["order_id"]]
    assert pipeline.failed_record(accepted["order_id"]) is None


def test_an_order_with_a_wrong_total_is_rejected_with_a_failed_orders_record(
    pipeline: Pipeline,
) -> None:
    accepted, execution = pipeline.run_order(load_fixture("order_with_wrong_total.json"))

    # A rejection is an outcome: the execution succeeds, so the workflow-failures alarm,
    # which counts failed executions, stays quiet.
    assert execution["status"] == "SUCCEEDED"
    order = pipeline.order(accepted["order_id"])
    assert order["status"] == "REJECTED"
    record = pipeline.failed_record(accepted["order_id"])
    assert record is not None
    assert record["stage"] == "validation"
    assert record["reasons"] == ["total_amount: must equal the sum of the items (60.08), got 60.18"]
    assert pipeline.queued_messages() == []


def test_a_badly_shaped_order_that_bypassed_the_api_is_rejected_with_every_reason(
    pipeline: Pipeline, valid_order: dict[str, Any]
) -> None:
    bad = {**valid_order, "customer_id": "", "coupon": "X"}
    bad["items"] = [{**valid_order["items"][0], "quantity": 0}]
    execution = pipeline.run_without_the_api("bypassed-1", bad)

    assert execution["status"] == "SUCCEEDED"
    record = pipeline.failed_record("bypassed-1")
    assert record is not None
    assert sorted(reason.split(":")[0] for reason in record["reasons"]) == [
        "coupon",
        "customer_id",
        "items[0].quantity",
    ]
    order = pipeline.order("bypassed-1")
    assert order["status"] == "REJECTED"
    assert order["failure_reasons"] == record["reasons"]


def test_transient_storage_error_is_retried(pipeline: Pipeline, valid_order: dict[str, Any]) -> None:
    pipeline.runtime.inject_failure("dofs-order-storage-dev", TransientStorageError("throttled"))

    accepted, execution = pipeline.run_order(valid_order)

    assert execution["status"] == "SUCCEEDED"
    assert _failed_task_errors(accepted["execution_arn"]) == ["TransientStorageError"]
    assert pipeline.order(accepted["order_id"])["status"] == "PENDING_FULFILLMENT"


def test_unexpected_step_error_ends_in_a_recorded_failure(
    pipeline: Pipeline, valid_order: dict[str, Any]
) -> None:
    pipeline.runtime.inject_failure("dofs-order-storage-dev", RuntimeError("disk on fire"))

    accepted, execution = pipeline.run_order(valid_order)

    assert execution["status"] == "FAILED"
    assert execution["error"] == "OrderProcessingFailed"
    order = pipeline.order(accepted["order_id"])
    assert order["status"] == "FULFILLMENT_FAILED"
    assert order["failure_stage"] == "workflow"
    record = pipeline.failed_record(accepted["order_id"])
    assert record is not None
    assert record["error"] == "RuntimeError"
    assert "disk on fire" in record["cause"]
    assert pipeline.queued_messages() == []


def test_a_rejection_that_cannot_be_recorded_still_ends_in_a_recorded_failure(pipeline: Pipeline) -> None:
    pipeline.runtime.inject_failure("dofs-order-storage-dev", RuntimeError("table gone"))

    accepted, execution = pipeline.run_order(load_fixture("order_with_wrong_total.json"))

    assert execution["status"] == "FAILED"
    assert execution["error"] == "OrderProcessingFailed"
    order = pipeline.order(accepted["order_id"])
    assert order["status"] == "FULFILLMENT_FAILED"
    assert order["failure_stage"] == "workflow"


def test_the_request_body_does_not_travel_past_validation(
    pipeline: Pipeline, valid_order: dict[str, Any]
) -> None:
    accepted, _ = pipeline.run_order(valid_order)

    entered = {
        event["stateEnteredEventDetails"]["name"]: json.loads(event["stateEnteredEventDetails"]["input"])
        for event in execution_history(accepted["execution_arn"])
        if "stateEnteredEventDetails" in event
    }
    assert "request_body" in entered["ValidateOrder"]
    assert "request_body" not in entered["StoreOrder"]
    assert entered["StoreOrder"]["order_id"] == accepted["order_id"]


def test_a_failed_enqueue_leaves_the_order_pending_and_the_reconciler_enqueues_it(
    pipeline: Pipeline, valid_order: dict[str, Any]
) -> None:
    sqs = boto3.client("sqs")
    queue_name = pipeline.run.outputs["order_queue_url"].rsplit("/", 1)[-1]
    attributes = sqs.get_queue_attributes(
        QueueUrl=pipeline.run.outputs["order_queue_url"], AttributeNames=["All"]
    )["Attributes"]
    sqs.delete_queue(QueueUrl=pipeline.run.outputs["order_queue_url"])
    pipeline.cut_deadlines()

    accepted, execution = pipeline.run_order(valid_order)

    assert execution["status"] == "SUCCEEDED"
    assert len(_failed_task_errors(accepted["execution_arn"])) > 1, "SendMessage was not retried"
    entered = [
        event["stateEnteredEventDetails"]["name"]
        for event in execution_history(accepted["execution_arn"])
        if "stateEnteredEventDetails" in event
    ]
    assert entered[-1] == "EnqueueDeferredToReconciler"
    assert pipeline.order(accepted["order_id"])["status"] == "PENDING_FULFILLMENT"

    sqs.create_queue(QueueName=queue_name, Attributes={"VisibilityTimeout": attributes["VisibilityTimeout"]})
    actions = pipeline.reconcile_until("enqueued")

    assert actions["enqueued"] == 1
    assert [json.loads(m["Body"])["order_id"] for m in pipeline.queued_messages()] == [accepted["order_id"]]


def _drain_once(pipeline: Pipeline, queue_output: str, function_name: str) -> int:
    """One poll of a queue, as Lambda's event source mapping does it; returns messages seen."""
    sqs = boto3.client("sqs")
    url = pipeline.run.outputs[queue_output]
    messages = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["ApproximateReceiveCount"]
    ).get("Messages", [])
    if not messages:
        return 0
    event = {
        "Records": [
            {"messageId": m["MessageId"], "body": m["Body"], "attributes": m.get("Attributes", {})}
            for m in messages
        ]
    }
    result = pipeline.invoke(function_name, event)
    failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
    for message in messages:
        if message["MessageId"] in failed:
            sqs.change_message_visibility(
                QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
        else:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return len(messages)


def _set_success_rate(function_name: str, rate: str) -> None:
    client = boto3.client("lambda")
    variables = client.get_function_configuration(FunctionName=function_name)["Environment"]["Variables"]
    client.update_function_configuration(
        FunctionName=function_name,
        Environment={"Variables": {**variables, "FULFILLMENT_SUCCESS_RATE": rate}},
    )


def test_always_failing_fulfillment_reaches_the_dlq_after_max_receive_count(
    pipeline: Pipeline, valid_order: dict[str, Any]
) -> None:
    _set_success_rate("dofs-fulfill-order-dev", "0")
    accepted, execution = pipeline.run_order(valid_order)
    assert execution["status"] == "SUCCEEDED"
    redrive = json.loads(
        boto3.client("sqs").get_queue_attributes(
            QueueUrl=pipeline.run.outputs["order_queue_url"], AttributeNames=["RedrivePolicy"]
        )["Attributes"]["RedrivePolicy"]
    )

    polls = 0
    while _drain_once(pipeline, "order_queue_url", "dofs-fulfill-order-dev"):
        polls += 1
        assert polls <= 10, "message never left the order queue"
    assert _drain_once(pipeline, "order_dlq_url", "dofs-dlq-processor-dev") == 1

    order = pipeline.order(accepted["order_id"])
    assert order["status"] == "FULFILLMENT_FAILED"
    assert order["fulfillment_attempts"] == redrive["maxReceiveCount"] == 3
    record = pipeline.failed_record(accepted["order_id"])
    assert record is not None
    assert record["stage"] == "fulfillment"


def test_always_succeeding_fulfillment_fulfills_once(pipeline: Pipeline, valid_order: dict[str, Any]) -> None:
    _set_success_rate("dofs-fulfill-order-dev", "1")
    accepted, _ = pipeline.run_order(valid_order)

    assert _drain_once(pipeline, "order_queue_url", "dofs-fulfill-order-dev") == 1
    assert _drain_once(pipeline, "order_queue_url", "dofs-fulfill-order-dev") == 0
    order = pipeline.order(accepted["order_id"])
    assert order["status"] == "FULFILLED"
    assert order["fulfillment_attempts"] == 1


def test_duplicate_start_of_the_same_order_runs_one_execution(
    pipeline: Pipeline, valid_order: dict[str, Any]
) -> None:
    first = pipeline.post_order(valid_order)
    wait_for_execution(first["execution_arn"])
    headers = {"Content-Type": "application/json", "Idempotency-Key": "order-abc-1"}
    event = {"httpMethod": "POST", "path": "/orders", "headers": headers, "body": json.dumps(valid_order)}
    responses = [pipeline.invoke("dofs-api-handler-dev", event) for _ in range(2)]

    bodies = [json.loads(r["body"]) for r in responses]
    assert {b["order_id"] for b in bodies} == {bodies[0]["order_id"]}
    wait_for_execution(bodies[0]["execution_arn"])
    machine = pipeline.run.outputs["state_machine_arn"]
    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"]
    assert sorted(e["name"] for e in executions) == sorted([first["order_id"], bodies[0]["order_id"]])
