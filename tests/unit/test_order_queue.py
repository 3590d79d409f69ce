"""OrderQueue: the fulfillment message the reconciler and the redrive send, as the consumer reads it."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError

from handlers.errors import DofsError, QueueError
from handlers.order_queue import OrderQueue
from handlers.sqs_batch import SqsRecord, parse_fulfillment_message
from tests.unit.support import client_error, queue_bodies


def test_enqueue_sends_the_message_the_workflow_sends(order_queue_url: str) -> None:
    sqs = boto3.client("sqs")

    message_id = OrderQueue(order_queue_url, sqs).enqueue("ord-1")

    (message,) = sqs.receive_message(QueueUrl=order_queue_url, MaxNumberOfMessages=10)["Messages"]
    assert message["MessageId"] == message_id
    record = SqsRecord.from_event_record({"messageId": message["MessageId"], "body": message["Body"]})
    assert parse_fulfillment_message(record).order_id == "ord-1"


def test_each_enqueue_is_one_message_naming_its_order(order_queue_url: str) -> None:
    sqs = boto3.client("sqs")
    queue = OrderQueue(order_queue_url, sqs)

    ids = [queue.enqueue(order_id) for order_id in ("a", "b", "a")]

    assert len(set(ids)) == 3, "a second enqueue of one order is a second message"
    assert sorted(body["order_id"] for body in queue_bodies(sqs, order_queue_url)) == ["a", "a", "b"]


def test_a_missing_queue_is_a_queue_error_naming_the_code(order_queue_url: str) -> None:
    missing = order_queue_url.rsplit("/", 1)[0] + "/dofs-no-such-queue"

    with pytest.raises(QueueError, match=r"^SendMessage failed: AWS\.SimpleQueueService\.NonExistentQueue$"):
        OrderQueue(missing, boto3.client("sqs")).enqueue("ord-1")


class FailingSqs:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def send_message(self, **kwargs: Any) -> Any:
        raise self.error


@pytest.mark.parametrize(
    ("error", "named"),
    [
        (client_error("AWS.SimpleQueueService.Throttled", "SendMessage"), "Throttled"),
        (EndpointConnectionError(endpoint_url="https://sqs.ap-south-1.amazonaws.com"), "Could not connect"),
    ],
    ids=["refused", "unreachable"],
)
def test_sqs_failures_become_queue_errors_naming_the_cause(error: Exception, named: str) -> None:
    with pytest.raises(QueueError) as raised:
        OrderQueue("https://sqs.example/queue", FailingSqs(error)).enqueue("ord-1")

    assert named in str(raised.value)
    assert isinstance(raised.value, DofsError)
    assert raised.value.__cause__ is error
