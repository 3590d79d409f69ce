"""Faults the local stack injects itself: the order queue refusing SendMessage."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from handlers.faults import DOFS_FAULTS, FaultInjector, FaultPlan, FaultPoint
from local.injected_faults import refused_enqueues
from local.stack import LocalStack, LocalStackOptions


@pytest.fixture
def queues() -> Iterator[tuple[Any, str, str]]:
    """An SQS client that would retry a retryable error, the order queue and its DLQ."""
    with mock_aws():
        sqs = boto3.client(
            "sqs",
            region_name="ap-south-1",
            config=Config(retries={"mode": "standard", "total_max_attempts": 5}),
        )
        dlq = sqs.create_queue(QueueName="dofs-order-dlq-dev")["QueueUrl"]
        queue = sqs.create_queue(QueueName="dofs-order-queue-dev")["QueueUrl"]
        yield sqs, queue, dlq


def _enqueue_faults(rate: float) -> FaultInjector:
    return FaultInjector(FaultPlan(rates={FaultPoint.ENQUEUE: rate}))


def test_at_rate_one_the_order_queue_refuses_every_send_and_the_dlq_none(
    queues: tuple[Any, str, str],
) -> None:
    sqs, queue, dlq = queues

    with refused_enqueues(_enqueue_faults(1.0), {"dofs-order-queue-dev"}):
        refusals = []
        for _ in range(3):
            with pytest.raises(ClientError) as refused:
                sqs.send_message(QueueUrl=queue, MessageBody='{"order_id": "o-1"}')
            refusals.append(refused.value.response)
        sqs.send_message(QueueUrl=dlq, MessageBody='{"order_id": "o-1"}')

    assert {r["Error"]["Message"] for r in refusals} == {"injected fault at enqueue"}
    assert {r["ResponseMetadata"]["HTTPStatusCode"] for r in refusals} == {400}
    assert {r["ResponseMetadata"]["RetryAttempts"] for r in refusals} == {0}  # botocore did not retry it
    assert _depth(sqs, queue) == 0
    assert _depth(sqs, dlq) == 1


def test_at_rate_zero_and_after_the_context_sends_go_through(queues: tuple[Any, str, str]) -> None:
    sqs, queue, _ = queues

    with refused_enqueues(_enqueue_faults(0.0), {"dofs-order-queue-dev"}):
        sqs.send_message(QueueUrl=queue, MessageBody="during")
    with refused_enqueues(_enqueue_faults(1.0), {"dofs-order-queue-dev"}):
        pass
    sqs.send_message(QueueUrl=queue, MessageBody="after")

    assert _depth(sqs, queue) == 2


def test_a_partial_rate_refuses_some_sends_repeatably_for_a_seed(queues: tuple[Any, str, str]) -> None:
    sqs, queue, _ = queues

    def outcomes() -> list[bool]:
        injector = FaultInjector(FaultPlan(seed=7, rates={FaultPoint.ENQUEUE: 0.5}))
        sent = []
        with refused_enqueues(injector, {"dofs-order-queue-dev"}):
            for _ in range(20):
                try:
                    sqs.send_message(QueueUrl=queue, MessageBody="x")
                    sent.append(True)
                except ClientError:
                    sent.append(False)
        return sent

    first = outcomes()

    assert 0 < first.count(False) < 20
    assert outcomes() == first


def _depth(sqs: Any, url: str) -> int:
    return int(
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"][
            "ApproximateNumberOfMessages"
        ]
    )


def test_the_stack_hands_its_functions_the_plan_and_keeps_one_injector() -> None:
    plan = FaultPlan(seed=3, rates={FaultPoint.VALIDATOR: 0.25, FaultPoint.ENQUEUE: 1.0})

    stack = LocalStack(LocalStackOptions(faults=plan))

    assert FaultPlan.parse(stack.runtime.base_environment[DOFS_FAULTS]) == plan
    assert stack.faults is not None and stack.faults.plan == plan


def test_without_a_plan_the_stack_injects_nothing() -> None:
    stack = LocalStack(LocalStackOptions())

    assert DOFS_FAULTS not in stack.runtime.base_environment
    assert stack.faults is None
