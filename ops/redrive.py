"""Redrive final fulfillment failures: back onto the order queue, for another round.

An order that is FULFILLMENT_FAILED after being validated goes back to
PENDING_FULFILLMENT (its failure kept in ``previous_failures``, its failed-orders record
removed so that a new final failure is recorded again) and its message is sent. Orders
whose workflow failed before storing them were never validated and are reported, not
moved. ``--dlq`` also moves any message still waiting in the DLQ back to the queue.

Safe to run twice: the status change is conditional, so a second run finds nothing left
to move, and fulfillment is idempotent per order, so a duplicate message is harmless.
One order's error is reported and the others are still moved.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from handlers.errors import DofsError
from handlers.models import FailureStage, OrderStatus
from handlers.order_queue import OrderQueue
from handlers.repository import FailedOrderRepository, OrderRepository

SQS_BATCH = 10
# A redriven order is back in flight: the reconciler looks at it again if it is neither
# fulfilled nor failed by then (its message lost), well past any stack's redeliveries.
REDRIVE_DUE = timedelta(hours=1)
FAILURE_FIELDS = ("failure_stage", "failure_reasons", "failed_at")


@dataclass
class RedriveReport:
    redriven: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # order id → why it was not moved
    errors: dict[str, str] = field(default_factory=dict)  # order id → what went wrong
    dlq_messages_moved: int = 0

    def lines(self, dry_run: bool = False) -> list[str]:
        verb = "would redrive" if dry_run else "redriven"
        lines = [f"{verb} {len(self.redriven)} order(s)" + (": " if self.redriven else "")]
        lines[0] += ", ".join(self.redriven)
        lines += [f"skipped {order_id}: {why}" for order_id, why in sorted(self.skipped.items())]
        lines += [f"error {order_id}: {what}" for order_id, what in sorted(self.errors.items())]
        if self.dlq_messages_moved:
            lines.append(f"moved {self.dlq_messages_moved} DLQ message(s) back to the order queue")
        return lines


class OrderRedrive:
    def __init__(
        self, orders: OrderRepository, failed_orders: FailedOrderRepository, queue: OrderQueue
    ) -> None:
        self.orders = orders
        self.failed_orders = failed_orders
        self.queue = queue

    def failed_order_ids(self) -> list[str]:
        """Orders with a final failure on record (rejections are final for good)."""
        return self.failed_orders.order_ids((FailureStage.FULFILLMENT, FailureStage.WORKFLOW))

    def redrive(self, order_ids: Iterable[str] | None = None, *, dry_run: bool = False) -> RedriveReport:
        report = RedriveReport()
        for order_id in self.failed_order_ids() if order_ids is None else order_ids:
            try:
                why = self._redrive_one(order_id, dry_run)
            except DofsError as exc:
                report.errors[order_id] = str(exc) if isinstance(exc, RedriveIncompleteError) else repr(exc)
                continue
            if why is None:
                report.redriven.append(order_id)
            else:
                report.skipped[order_id] = why
        return report

    def _redrive_one(self, order_id: str, dry_run: bool) -> str | None:
        """Why the order is not redriven, or None once it is (or, dry, would be)."""
        item = self.orders.get(order_id)
        why = _why_not(item)
        if item is None or why is not None or dry_run:
            return why
        failure: dict[str, Any] = {name: item[name] for name in FAILURE_FIELDS if name in item}
        if not self.orders.reopen_for_fulfillment(order_id, failure, datetime.now(UTC) + REDRIVE_DUE):
            return "it moved on while being redriven"
        # From here on the order is PENDING_FULFILLMENT: it is sent even if its old record
        # stays, and if the send fails it has no message, which is what the reconciler
        # looks for, so it is enqueued later.
        try:
            try:
                self.failed_orders.delete(order_id)
            finally:
                self.queue.enqueue(order_id)
        except DofsError as exc:
            raise RedriveIncompleteError(f"reopened, but {type(exc).__name__}: {exc}") from exc
        return None


def _why_not(item: Mapping[str, Any] | None) -> str | None:
    if item is None:
        return "no such order"
    if item["status"] != OrderStatus.FULFILLMENT_FAILED.value:
        return f"it is {item['status']}"
    if "validated_at" not in item:
        return "it was never validated (its workflow failed before storing it)"
    return None


class RedriveIncompleteError(DofsError):
    """The order was reopened but a later step failed."""


def move_dlq_messages(sqs: Any, dlq_url: str, queue_url: str) -> int:
    """Move every message waiting in the DLQ to the order queue; returns how many."""
    moved = 0
    while True:
        messages = sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=SQS_BATCH, WaitTimeSeconds=1
        ).get("Messages", [])
        if not messages:
            return moved
        entries = [{"Id": str(i), "MessageBody": m["Body"]} for i, m in enumerate(messages)]
        sent = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        sent_ids = {entry["Id"] for entry in sent.get("Successful", [])}
        done = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        # Only what was sent is deleted; the rest returns to the DLQ after its visibility timeout.
        done = [entry for entry in done if entry["Id"] in sent_ids]
        if done:
            sqs.delete_message_batch(QueueUrl=dlq_url, Entries=done)
        moved += len(done)
        if len(done) < len(messages):
            return moved
