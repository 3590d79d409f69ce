"""The local SQS poller against moto's SQS: batches, windows and partial batch responses,
handled the way Lambda's event source mapping handles them."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from handlers.faults import FaultInjector, FaultPlan, FaultPoint
from local.event_source import EventSourceMapping, QueuePoller, failed_message_ids

BATCH = {"m1", "m2", "m3"}


@pytest.mark.parametrize(
    ("response", "kept"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "m2"}]}, {"m2"}),
        ({"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m3"}]}, {"m1", "m3"}),
        # Lambda fails the whole batch when the response names no message or another one.
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, BATCH),
        ({"batchItemFailures": [{"itemIdentifier": "elsewhere"}]}, BATCH),
        ({"batchItemFailures": [{"id": "m1"}]}, BATCH),
        ({"batchItemFailures": ["m1"]}, BATCH),
        ({"batchItemFailures": "m1"}, BATCH),
    ],
)
def test_messages_kept_on_the_queue(response: object, kept: set[str]) -> None:
    assert failed_message_ids(response, BATCH) == kept


class FakeFunction:
    """A Lambda client whose function answers with ``response`` (or fails), recording events."""

    def __init__(self, response: object = None, *, fails: bool = False) -> None:
        self.response, self.fails = response, fails
        self.events: list[dict[str, Any]] = []

    def invoke(self, FunctionName: str, Payload: str) -> dict[str, Any]:  # noqa: N803 (boto3's names)
        self.events.append(json.loads(Payload))
        answer: dict[str, Any] = {"Payload": io.BytesIO(json.dumps(self.response).encode())}
        if self.fails:
            answer["FunctionError"] = "Unhandled"
        return answer


@pytest.fixture
def sqs() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("sqs", region_name="ap-south-1")


def _poller(
    sqs: Any, function: FakeFunction, *, batch_size: int = 10, window: int = 0, report: bool = True
) -> QueuePoller:
    url = sqs.create_queue(QueueName="orders", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    mapping = EventSourceMapping(
        "uuid", arn, url, "arn:aws:lambda:ap-south-1:123456789012:function:f", batch_size, window, report
    )
    return QueuePoller(mapping, sqs=sqs, lambda_client=function, region="ap-south-1")


def _send(sqs: Any, poller: QueuePoller, count: int) -> None:
    for n in range(count):
        sqs.send_message(QueueUrl=poller.mapping.queue_url, MessageBody=json.dumps({"order_id": f"o-{n}"}))


def _depth(sqs: Any, poller: QueuePoller) -> tuple[int, int]:
    attributes = sqs.get_queue_attributes(QueueUrl=poller.mapping.queue_url, AttributeNames=["All"])[
        "Attributes"
    ]
    return int(attributes["ApproximateNumberOfMessages"]), int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def test_a_batch_never_exceeds_the_mapping_batch_size(sqs: Any) -> None:
    poller = _poller(sqs, FakeFunction(), batch_size=3)
    _send(sqs, poller, 5)

    assert len(poller.collect_batch()) == 3


def test_a_batching_window_gathers_more_than_one_receive(sqs: Any) -> None:
    poller = _poller(sqs, FakeFunction(), batch_size=15, window=1)
    _send(sqs, poller, 15)

    assert len(poller.collect_batch()) == 15  # SQS hands out at most 10 per receive


def test_records_are_what_lambda_hands_the_function(sqs: Any) -> None:
    function = FakeFunction()
    poller = _poller(sqs, function)
    _send(sqs, poller, 1)

    poller.deliver(poller.collect_batch())

    (record,) = function.events[0]["Records"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == poller.mapping.queue_arn
    assert json.loads(record["body"]) == {"order_id": "o-0"}
    assert record["attributes"]["ApproximateReceiveCount"] == "1"


def test_success_deletes_the_batch(sqs: Any) -> None:
    poller = _poller(sqs, FakeFunction({"batchItemFailures": []}))
    _send(sqs, poller, 4)

    poller.deliver(poller.collect_batch())

    assert _depth(sqs, poller) == (0, 0)


def test_a_partial_batch_response_keeps_only_the_listed_messages(sqs: Any) -> None:
    function = FakeFunction()
    poller = _poller(sqs, function)
    _send(sqs, poller, 4)
    batch = poller.collect_batch()
    function.response = {"batchItemFailures": [{"itemIdentifier": batch[1]["MessageId"]}]}

    poller.deliver(batch)

    assert _depth(sqs, poller) == (0, 1)  # in flight until its visibility timeout ends


def test_a_function_error_keeps_the_whole_batch(sqs: Any) -> None:
    poller = _poller(sqs, FakeFunction({"errorType": "RuntimeError"}, fails=True))
    _send(sqs, poller, 4)

    poller.deliver(poller.collect_batch())

    assert _depth(sqs, poller) == (0, 4)


def test_without_report_batch_item_failures_a_returned_list_is_ignored(sqs: Any) -> None:
    function = FakeFunction()
    poller = _poller(sqs, function, report=False)
    _send(sqs, poller, 2)
    batch = poller.collect_batch()
    function.response = {"batchItemFailures": [{"itemIdentifier": batch[0]["MessageId"]}]}

    poller.deliver(batch)

    assert _depth(sqs, poller) == (0, 0)


class MeetingFunction(FakeFunction):
    """Succeeds only when two invocations are in it at the same time."""

    def __init__(self) -> None:
        super().__init__({"batchItemFailures": []})
        self.together = threading.Barrier(2, timeout=5)
        self._lock = threading.Lock()

    def invoke(self, FunctionName: str, Payload: str) -> dict[str, Any]:  # noqa: N803 (boto3's names)
        self.together.wait()  # BrokenBarrierError unless the other invocation arrives meanwhile
        with self._lock:
            return super().invoke(FunctionName, Payload)


class CountingSqs:
    """The SQS client, counting the messages the poller deletes."""

    def __init__(self, sqs: Any) -> None:
        self.sqs = sqs
        self.deleted: list[str] = []

    def delete_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> Any:  # noqa: N803
        self.deleted += [entry["ReceiptHandle"] for entry in Entries]
        return self.sqs.delete_message_batch(QueueUrl=QueueUrl, Entries=Entries)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sqs, name)


def _duplicating(rate: float) -> FaultInjector:
    return FaultInjector(FaultPlan(rates={FaultPoint.DUPLICATE_DELIVERY: rate}))


def test_an_injected_duplicate_delivers_one_event_to_two_concurrent_invocations(sqs: Any) -> None:
    function, counting = MeetingFunction(), CountingSqs(sqs)
    poller = _poller(sqs, function)
    poller.sqs, poller.faults = counting, _duplicating(1.0)
    _send(sqs, poller, 1)

    poller.deliver(poller.collect_batch())

    first, second = function.events
    assert first == second
    assert len({record["messageId"] for record in first["Records"]}) == 1
    assert len(counting.deleted) == 1
    assert _depth(sqs, poller) == (0, 0)


def test_without_the_fault_a_batch_is_delivered_once(sqs: Any) -> None:
    function = FakeFunction()
    poller = _poller(sqs, function)
    poller.faults = _duplicating(0.0)
    _send(sqs, poller, 3)

    poller.deliver(poller.collect_batch())

    assert len(function.events) == 1
