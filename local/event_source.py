"""An SQS poller that behaves like Lambda's event source mapping.

For each mapping the emulator holds, one poller thread receives messages with the
queue's own visibility timeout, gathers a batch (``BatchSize``, within
``MaximumBatchingWindowInSeconds``), invokes the function through the emulator's Lambda
API, and deletes what succeeded. A function error leaves the whole batch to reappear
after the visibility timeout; with ``ReportBatchItemFailures`` only the listed messages
stay. Receives past the redrive policy's ``maxReceiveCount`` are moved to the DLQ by the
emulator's SQS, as AWS's SQS does. With a fault plan, a batch may be delivered twice at
once (``FaultPoint.DUPLICATE_DELIVERY``), as SQS's at-least-once delivery can.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from botocore.client import BaseClient
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.sqs.models import sqs_backends

from handlers.faults import FaultInjector, FaultPoint
from local.lambda_runtime import Invoked, invoke_function

logger = logging.getLogger("dofs.local.event_source")

SQS_MAX_MESSAGES_PER_RECEIVE = 10
# Long-poll in short slices so that a stop request is honoured within about a second.
RECEIVE_WAIT_SECONDS = 1
ERROR_BACKOFF_SECONDS = 1.0


def detach_moto_sqs_trigger(queue_arn: str, function_arn: str, region: str) -> None:
    """Stop moto invoking the function itself on every send (once, ignoring partial
    batch responses); the mapping stays listed, and ``QueuePoller`` serves it."""
    for queue in sqs_backends[DEFAULT_ACCOUNT_ID][region].queues.values():
        if queue.queue_arn == queue_arn:
            queue.lambda_event_source_mappings.pop(function_arn, None)


@dataclass(frozen=True)
class EventSourceMapping:
    uuid: str
    queue_arn: str
    queue_url: str
    function_arn: str
    batch_size: int
    batching_window_seconds: int
    report_batch_item_failures: bool

    @classmethod
    def from_emulator(cls, mapping: dict[str, Any], queue_url: str) -> EventSourceMapping:
        return cls(
            uuid=mapping["UUID"],
            queue_arn=mapping["EventSourceArn"],
            queue_url=queue_url,
            function_arn=mapping["FunctionArn"],
            batch_size=int(mapping.get("BatchSize") or 10),
            batching_window_seconds=int(mapping.get("MaximumBatchingWindowInSeconds") or 0),
            report_batch_item_failures="ReportBatchItemFailures" in mapping.get("FunctionResponseTypes", []),
        )


def sqs_record(message: dict[str, Any], mapping: EventSourceMapping, region: str) -> dict[str, Any]:
    """One message as Lambda hands it to the function."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": _base64(value.get("BinaryValue")),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value["DataType"],
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": mapping.queue_arn,
        "awsRegion": region,
    }


def _base64(raw: bytes | None) -> str | None:
    return base64.b64encode(raw).decode("ascii") if raw is not None else None


def failed_message_ids(response: Any, batch_ids: set[str]) -> set[str]:
    """The messages a partial batch response keeps on the queue.

    Like Lambda: a missing or empty ``batchItemFailures`` means all succeeded; an entry
    that is malformed or names a message outside the batch fails the whole batch.
    """
    if not isinstance(response, dict) or not response.get("batchItemFailures"):
        return set()
    failures = response["batchItemFailures"]
    if not isinstance(failures, list):
        return set(batch_ids)
    ids = {item.get("itemIdentifier") if isinstance(item, dict) else None for item in failures}
    if None in ids or "" in ids or not ids <= batch_ids:
        return set(batch_ids)
    return {str(i) for i in ids}


class QueuePoller(threading.Thread):
    """Lambda's poller for one event source mapping."""

    def __init__(
        self,
        mapping: EventSourceMapping,
        *,
        sqs: BaseClient,
        lambda_client: BaseClient,
        region: str,
        faults: FaultInjector | None = None,
    ) -> None:
        super().__init__(name=f"poller-{mapping.function_arn.rsplit(':', 1)[-1]}", daemon=True)
        self.mapping = mapping
        self.sqs = sqs
        self.lambda_client = lambda_client
        self.region = region
        self.faults = faults
        self._stop_requested = threading.Event()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop polling; a batch being delivered is finished first, as far as ``timeout``."""
        self._stop_requested.set()
        self.join(timeout)

    def run(self) -> None:
        while not self._stop_requested.is_set():
            try:
                batch = self.collect_batch()
                if batch:
                    self.deliver(batch)
            except Exception:  # keep polling, as Lambda does, but never silently
                logger.exception("poller for %s failed; retrying", self.mapping.function_arn)
                self._stop_requested.wait(ERROR_BACKOFF_SECONDS)

    def collect_batch(self) -> list[dict[str, Any]]:
        """Receive until the batch is full, or the batching window closes once a message is in."""
        batch: list[dict[str, Any]] = []
        window_closes: float | None = None
        while len(batch) < self.mapping.batch_size and not self._stop_requested.is_set():
            wait = RECEIVE_WAIT_SECONDS
            if window_closes is not None:
                remaining = window_closes - time.monotonic()
                if remaining <= 0:
                    break
                wait = min(wait, int(remaining))
            received = self._receive(self.mapping.batch_size - len(batch), wait)
            if not received and wait == 0:  # under a second of window left: no busy loop
                self._stop_requested.wait(0.1)
            if received and window_closes is None:
                window_closes = time.monotonic() + self.mapping.batching_window_seconds
            batch.extend(received)
            if batch and self.mapping.batching_window_seconds == 0:
                break
        return batch

    def _receive(self, wanted: int, wait_seconds: int) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(
            QueueUrl=self.mapping.queue_url,
            MaxNumberOfMessages=min(wanted, SQS_MAX_MESSAGES_PER_RECEIVE),
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

    def deliver(self, batch: list[dict[str, Any]]) -> None:
        event = {"Records": [sqs_record(m, self.mapping, self.region) for m in batch]}
        if self.faults is not None and self.faults.fires(FaultPoint.DUPLICATE_DELIVERY):
            self._deliver_twice(batch, event)
        else:
            self._settle(batch, invoke_function(self.lambda_client, self.mapping.function_arn, event))

    def _deliver_twice(self, batch: list[dict[str, Any]], event: dict[str, Any]) -> None:
        """The same event to two concurrent invocations; the first to finish settles the
        batch, as the first of two consumers deletes the message, and the batch is done
        when both have finished."""
        logger.info("delivering a batch of %d twice at once (injected duplicate delivery)", len(batch))
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix=f"{self.name}-duplicate") as pool:
            invocations = [
                pool.submit(invoke_function, self.lambda_client, self.mapping.function_arn, event)
                for _ in range(2)
            ]
            self._settle(batch, next(as_completed(invocations)).result())

    def _settle(self, batch: list[dict[str, Any]], invoked: Invoked) -> None:
        """Delete what the function processed; a failed invocation leaves the batch to return."""
        if invoked.failed:
            logger.warning(
                "%s failed on a batch of %d (%s); the messages return after the visibility timeout",
                self.mapping.function_arn.rsplit(":", 1)[-1],
                len(batch),
                invoked.error_type,
            )
            return
        ids = {m["MessageId"] for m in batch}
        keep = failed_message_ids(invoked.payload, ids) if self.mapping.report_batch_item_failures else set()
        self._delete_messages([m for m in batch if m["MessageId"] not in keep])

    def _delete_messages(self, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), SQS_MAX_MESSAGES_PER_RECEIVE):
            chunk = messages[start : start + SQS_MAX_MESSAGES_PER_RECEIVE]
            deleted = self.sqs.delete_message_batch(
                QueueUrl=self.mapping.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
            for failure in deleted.get("Failed", []):
                # e.g. the handler outran the visibility timeout: the message will come again
                logger.warning("could not delete a processed message: %s", failure.get("Message"))
