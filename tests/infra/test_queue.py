"""The order queue, its DLQ and their consumers (their alarms: test_alarms.py)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from local.recorded_program import ProgramRun, RecordedResource, record_program
from tests.infra import helpers as h


def _mapping_from(run: ProgramRun, queue: RecordedResource) -> RecordedResource:
    mappings = [
        m for m in run.of_type(h.EVENT_SOURCE_MAPPING) if m.inputs["eventSourceArn"] == queue.outputs["arn"]
    ]
    assert len(mappings) == 1, f"{queue.inputs['name']} has {len(mappings)} consumers"
    return mappings[0]


def _consumer(run: ProgramRun, queue: RecordedResource) -> RecordedResource:
    arn = _mapping_from(run, queue).inputs["functionName"]
    (consumer,) = [f for f in run.of_type(h.FUNCTION) if arn in {f.outputs["arn"], f.inputs["name"]}]
    return consumer


def test_both_queues_are_encrypted(stack_run: ProgramRun) -> None:
    for queue in stack_run.of_type(h.QUEUE):
        assert queue.inputs["sqsManagedSseEnabled"] is True, queue.name


def test_order_queue_redrives_to_the_dlq_after_the_configured_receives(
    stack_run: ProgramRun, config: h.StackConfig
) -> None:
    policy = json.loads(h.order_queue(stack_run).inputs["redrivePolicy"])
    assert policy == {
        "deadLetterTargetArn": h.dead_letter_queue(stack_run).outputs["arn"],
        "maxReceiveCount": config.integer("dofs:maxReceiveCount"),
    }


def test_dlq_itself_has_no_redrive(stack_run: ProgramRun) -> None:
    assert "redrivePolicy" not in h.dead_letter_queue(stack_run).inputs


def test_max_receive_count_override_reaches_the_redrive_policy() -> None:
    run = record_program("dev", {"dofs:maxReceiveCount": "7"})
    assert json.loads(h.order_queue(run).inputs["redrivePolicy"])["maxReceiveCount"] == 7


def test_redrive_allow_policy_restricts_the_dlq_to_the_order_queue(stack_run: ProgramRun) -> None:
    allow = h.only(stack_run, h.REDRIVE_ALLOW_POLICY)
    assert allow.inputs["queueUrl"] == h.dead_letter_queue(stack_run).outputs["url"]
    assert json.loads(allow.inputs["redriveAllowPolicy"]) == {
        "redrivePermission": "byQueue",
        "sourceQueueArns": [h.order_queue(stack_run).outputs["arn"]],
    }


def test_dlq_keeps_messages_longer_than_the_order_queue(stack_run: ProgramRun) -> None:
    """SQS keeps a message's original enqueue time when it moves to the DLQ."""
    dlq = h.dead_letter_queue(stack_run).inputs["messageRetentionSeconds"]
    assert dlq > h.order_queue(stack_run).inputs["messageRetentionSeconds"]
    assert dlq <= 14 * 24 * 3600  # SQS's maximum


@pytest.mark.parametrize("queue_of", [h.order_queue, h.dead_letter_queue], ids=["order-queue", "dlq"])
def test_visibility_timeout_is_at_least_six_times_the_consumer_timeout(
    stack_run: ProgramRun, queue_of: Callable[[ProgramRun], RecordedResource]
) -> None:
    queue = queue_of(stack_run)
    consumer = _consumer(stack_run, queue)
    assert queue.inputs["visibilityTimeoutSeconds"] >= 6 * consumer.inputs["timeout"]


def test_order_queue_visibility_follows_the_fulfill_timeout_and_batching_window() -> None:
    run = record_program(
        "dev",
        {
            "dofs:fulfillTimeoutSeconds": "100",
            "dofs:fulfillmentBatchSize": "50",
            "dofs:fulfillmentBatchWindowSeconds": "20",
        },
    )
    fulfill = h.function(run, h.FULFILL_ORDER)
    assert fulfill.inputs["timeout"] == 100
    assert h.order_queue(run).inputs["visibilityTimeoutSeconds"] >= 6 * 100 + 20
    for mapping in run.of_type(h.EVENT_SOURCE_MAPPING):
        assert mapping.inputs["batchSize"] == 50
        assert mapping.inputs["maximumBatchingWindowInSeconds"] == 20


def test_order_queue_feeds_fulfill_order(stack_run: ProgramRun) -> None:
    consumer = _consumer(stack_run, h.order_queue(stack_run))
    assert consumer.inputs["name"] == h.function_name(h.FULFILL_ORDER, stack_run.stack)


def test_dlq_feeds_dlq_processor(stack_run: ProgramRun) -> None:
    consumer = _consumer(stack_run, h.dead_letter_queue(stack_run))
    assert consumer.inputs["name"] == h.function_name(h.DLQ_PROCESSOR, stack_run.stack)


def test_event_source_mappings_batch_from_config_and_report_item_failures(
    stack_run: ProgramRun, config: h.StackConfig
) -> None:
    mappings = stack_run.of_type(h.EVENT_SOURCE_MAPPING)
    assert len(mappings) == 2
    for mapping in mappings:
        assert mapping.inputs["batchSize"] == config.integer("dofs:fulfillmentBatchSize")
        assert mapping.inputs["maximumBatchingWindowInSeconds"] == config.integer(
            "dofs:fulfillmentBatchWindowSeconds"
        )
        assert mapping.inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]


def test_each_consumer_may_receive_from_its_queue(stack_run: ProgramRun) -> None:
    for queue in (h.order_queue(stack_run), h.dead_letter_queue(stack_run)):
        consumer = _consumer(stack_run, queue)
        document = h.policy_of_role(stack_run, h.role_with_arn(stack_run, consumer.inputs["role"]))
        for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"):
            assert (action, queue.outputs["arn"]) in h.grants(document), (queue.name, action)
