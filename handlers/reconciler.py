"""reconciler λ: drives on orders stuck in a non-terminal state, on a schedule.

Each step of the pipeline writes before it hands on, so a crash between the two leaves
an order waiting for a step that never comes. Past a deadline:

- RECEIVED with no execution (StartExecution failed after the 202): start it;
- RECEIVED or VALIDATED whose execution ended without moving it on: a VALIDATED order
  is marked PENDING_FULFILLMENT and enqueued, a RECEIVED one is failed;
- PENDING_FULFILLMENT, not fulfilled long after every SQS redelivery (the enqueue
  failed, or its message was lost): enqueue it again, but only once the order queue has
  no backlog: behind one, a pending order may just be waiting its turn, and enqueueing
  it again (or giving up on it) would only add load (or fail an order that was fine);
- after ``RECONCILE_MAX_ATTEMPTS`` such attempts: FULFILLMENT_FAILED, with a record.

A RUNNING execution is left alone: its own timeout bounds it. Every action starts with
a conditional claim (the order is unchanged since it was read), so two runs at once
act once; starting, enqueueing and failing are each idempotent per order anyway.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from handlers import aws, faults, settings
from handlers.errors import QueueError
from handlers.models import FailureStage, OrderStatus
from handlers.observability import get_logger
from handlers.order_intake import WorkflowStarter
from handlers.order_queue import OrderQueue
from handlers.repository import FailedOrderRepository, OrderRepository, utc_iso

logger = get_logger("reconciler")

RUNNING = "RUNNING"
# Stop taking orders this long before the Lambda timeout, so an order is never cut off
# between its claim and its action (which would cost it an attempt and a full deadline).
STOP_MARGIN_MILLIS = 10_000


class Action(StrEnum):
    STARTED = "started"
    ENQUEUED = "enqueued"
    FAILED = "failed"
    RUNNING = "left_running"
    SKIPPED = "skipped"  # moved on, or claimed by another run, since it was listed
    ERROR = "error"
    DEFERRED = "deferred"  # left for the next run: out of time, or the queue has a backlog


@dataclass(frozen=True)
class ReconcilerSettings:
    received_after_seconds: int
    pending_after_seconds: int
    max_attempts: int

    @classmethod
    def from_environment(cls) -> ReconcilerSettings:
        return cls(
            received_after_seconds=settings.positive_int(settings.RECONCILE_RECEIVED_AFTER_SECONDS),
            pending_after_seconds=settings.positive_int(settings.RECONCILE_PENDING_AFTER_SECONDS),
            max_attempts=settings.positive_int(settings.RECONCILE_MAX_ATTEMPTS),
        )


class OrderReconciler:
    def __init__(
        self,
        orders: OrderRepository,
        failed_orders: FailedOrderRepository,
        workflow: WorkflowStarter,
        queue: OrderQueue,
        config: ReconcilerSettings,
    ) -> None:
        self.orders = orders
        self.failed_orders = failed_orders
        self.workflow = workflow
        self.queue = queue
        self.config = config

    def run(
        self, now: datetime | None = None, millis_left: Callable[[], int] | None = None
    ) -> Counter[Action]:
        """One pass over the stuck orders; ``millis_left`` is the invocation's time budget."""
        now = now or datetime.now(UTC)
        deadlines = {
            OrderStatus.RECEIVED: self.config.received_after_seconds,
            OrderStatus.VALIDATED: self.config.received_after_seconds,
            OrderStatus.PENDING_FULFILLMENT: self.config.pending_after_seconds,
        }
        actions: Counter[Action] = Counter()
        for status, after_seconds in deadlines.items():
            cutoff = utc_iso(now - timedelta(seconds=after_seconds))
            order_ids = list(self.orders.ids_in_status(status, cutoff))
            if order_ids and status is OrderStatus.PENDING_FULFILLMENT and self._queue_has_backlog():
                actions[Action.DEFERRED] += len(order_ids)
                continue
            for order_id in order_ids:
                if millis_left is not None and millis_left() < STOP_MARGIN_MILLIS:
                    actions[Action.DEFERRED] += 1
                    continue
                actions[self._reconcile_logged(order_id, status, cutoff)] += 1
        return actions

    def _queue_has_backlog(self) -> bool:
        try:
            waiting = self.queue.waiting_messages()
        except QueueError as exc:
            logger.warning(
                "order queue depth unknown; pending orders wait for the next run", extra={"error": str(exc)}
            )
            return True
        if waiting:
            logger.debug(
                "order queue has a backlog; pending orders wait for it to drain",
                extra={"waiting_messages": waiting},
            )
        return waiting > 0

    def _reconcile_logged(self, order_id: str, status: OrderStatus, cutoff: str) -> Action:
        try:
            action = self.reconcile(order_id, status, cutoff)
        except Exception as exc:  # one order's failure must not stop the others
            logger.warning(
                "order not reconciled; the next run tries again",
                extra={"order_id": order_id, "status": status.value, "error": f"{type(exc).__name__}: {exc}"},
            )
            return Action.ERROR
        if action is not Action.SKIPPED:
            logger.info(
                "order reconciled", extra={"order_id": order_id, "status": status.value, "action": action}
            )
        return action

    def reconcile(self, order_id: str, status: OrderStatus, cutoff: str) -> Action:
        item = self.orders.get(order_id)
        if item is None or item["status"] != status.value or str(item["updated_at"]) >= cutoff:
            return Action.SKIPPED
        exhausted = int(item.get("reconcile_attempts", 0)) >= self.config.max_attempts
        if status is OrderStatus.PENDING_FULFILLMENT:
            if exhausted:
                return self._claimed(item, lambda: self._give_up(order_id, status))
            return self._claimed(item, lambda: self._enqueue(order_id))
        execution = self.workflow.execution_status(order_id)
        if execution == RUNNING:
            return Action.RUNNING
        if exhausted:
            return self._claimed(item, lambda: self._give_up(order_id, status))
        if execution is None and status is OrderStatus.RECEIVED:
            return self._claimed(item, lambda: self._start(order_id, str(item["request_body"])))
        if status is OrderStatus.VALIDATED:
            return self._claimed(item, lambda: self._drive_on_validated(order_id))
        why = f"its execution ended {execution} without recording the order"
        return self._claimed(item, lambda: self._give_up(order_id, status, why))

    def _claimed(self, item: dict[str, Any], act: Callable[[], Action]) -> Action:
        status = OrderStatus(item["status"])
        if not self.orders.claim(str(item["order_id"]), status, str(item["updated_at"])):
            return Action.SKIPPED
        return act()

    def _start(self, order_id: str, request_body: str) -> Action:
        execution_arn = self.workflow.start(order_id, request_body)
        self.orders.record_execution(order_id, execution_arn)
        return Action.STARTED

    def _enqueue(self, order_id: str) -> Action:
        self.queue.enqueue(order_id)
        return Action.ENQUEUED

    def _drive_on_validated(self, order_id: str) -> Action:
        if not self.orders.mark_pending_fulfillment(order_id):
            return Action.SKIPPED
        return self._enqueue(order_id)

    # Record first, status second: once the order is terminal no run looks at it again,
    # so a failed record write must leave it non-terminal for the next run to retry.
    def _give_up(self, order_id: str, status: OrderStatus, why: str = "") -> Action:
        pending = status is OrderStatus.PENDING_FULFILLMENT
        stage = FailureStage.FULFILLMENT if pending else FailureStage.WORKFLOW
        reasons = [why or f"still {status.value} after {self.config.max_attempts} reconciliation attempt(s)"]
        recorded = self.failed_orders.record(order_id, stage, reasons)
        if self.orders.mark_fulfillment_failed(order_id, stage, reasons):
            return Action.FAILED
        if recorded:  # it moved on (fulfilled, say) since the claim: withdraw the record
            self.failed_orders.delete(order_id)
        return Action.SKIPPED


def _reconciler() -> OrderReconciler:
    dynamodb = aws.dynamodb_resource()
    return OrderReconciler(
        OrderRepository(settings.require(settings.ORDERS_TABLE_NAME), dynamodb),
        FailedOrderRepository(settings.require(settings.FAILED_ORDERS_TABLE_NAME), dynamodb),
        WorkflowStarter(settings.require(settings.STEP_FUNCTION_ARN), aws.stepfunctions_client()),
        OrderQueue(settings.require(settings.ORDER_QUEUE_URL), aws.sqs_client()),
        ReconcilerSettings.from_environment(),
    )


def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    faults.inject_transient(faults.FaultPoint.RECONCILER)
    actions = _reconciler().run(millis_left=getattr(context, "get_remaining_time_in_millis", None))
    summary = {action.value: actions.get(action, 0) for action in Action}
    # Once a run; at INFO only when the run found something, not every idle minute.
    logger.log(
        logging.INFO if any(summary.values()) else logging.DEBUG, "reconciliation finished", extra=summary
    )
    return summary
