"""reconciler λ: drives on orders stuck in a non-terminal state, on a schedule.

Each step of the pipeline writes before it hands on, so a crash between the two leaves
an order waiting for a step that never comes. Every order in flight carries its own
deadline (``due_at``, in the in-flight index); once it has passed:

- RECEIVED: its workflow never started, or ended (timed out, crashed, could not record
  its failure) without storing or rejecting it: start it again. A STANDARD workflow
  de-duplicates the name, so this starts nothing while the first execution exists; an
  EXPRESS one runs it again, which changes nothing if the first execution still
  finishes, since every write the workflow makes is conditional on the order's status;
- PENDING_FULFILLMENT, not fulfilled long after every SQS redelivery (the enqueue
  failed, or its message was lost): enqueue it again, but only once the order queue has
  no backlog: behind one, a pending order may just be waiting its turn, and enqueueing
  it again (or giving up on it) would only add load (or fail an order that was fine);
- after ``RECONCILE_MAX_ATTEMPTS`` such attempts: FULFILLMENT_FAILED, with a record.

The reconciler never asks Step Functions about an execution (EXPRESS executions cannot
be described), so it works the same for both workflow types; this is also what records
an EXPRESS execution's timeout, which emits no event. Every action starts with a
conditional claim that moves the order's deadline on, so two runs at once act once.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from handlers import aws, faults, metrics, settings
from handlers.business_metrics import BusinessMetric
from handlers.business_metrics import ReconcilerAction as Action
from handlers.errors import QueueError
from handlers.models import DUE_AT, IN_FLIGHT_STATUSES, FailureStage, OrderStatus
from handlers.observability import get_logger
from handlers.order_intake import WorkflowStarter
from handlers.order_queue import OrderQueue
from handlers.repository import FailedOrderRepository, OrderRepository, utc_iso

logger = get_logger("reconciler")

# Stop taking orders this long before the Lambda timeout, so an order is never cut off
# between its claim and its action (which would cost it an attempt and a full deadline).
STOP_MARGIN_MILLIS = 10_000


@dataclass(frozen=True)
class ReconcilerSettings:
    """The reconciler's deadlines and patience, from the function's environment."""

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
        """One pass over the orders due; ``millis_left`` is the invocation's time budget."""
        now = now or datetime.now(UTC)
        actions: Counter[Action] = Counter()
        backlog = functools.cache(self._queue_has_backlog)  # asked once a run, and only if needed
        for order_id in self.orders.due_ids(now):
            if millis_left is not None and millis_left() < STOP_MARGIN_MILLIS:
                actions[Action.DEFERRED] += 1
                continue
            actions[self._reconcile_logged(order_id, now, backlog)] += 1
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

    def _reconcile_logged(self, order_id: str, now: datetime, backlog: Callable[[], bool]) -> Action:
        try:
            action = self.reconcile(order_id, now, backlog)
        except Exception as exc:  # one order's failure must not stop the others
            logger.warning(
                "order not reconciled; the next run tries again",
                extra={"order_id": order_id, "error": f"{type(exc).__name__}: {exc}"},
            )
            return Action.ERROR
        if action not in (Action.SKIPPED, Action.DEFERRED):
            logger.info("order reconciled", extra={"order_id": order_id, "action": action})
        return action

    def reconcile(self, order_id: str, now: datetime, backlog: Callable[[], bool] = lambda: False) -> Action:
        item = self.orders.get(order_id)
        if item is None or item.get("status") not in IN_FLIGHT_STATUSES:
            return Action.SKIPPED
        if DUE_AT not in item or str(item[DUE_AT]) > utc_iso(now):
            return Action.SKIPPED  # moved on, or claimed by another run, since it was listed
        status = OrderStatus(item["status"])
        if status is OrderStatus.PENDING_FULFILLMENT and backlog():
            return Action.DEFERRED
        if int(item.get("reconcile_attempts", 0)) >= self.config.max_attempts:
            return self._claimed(item, now, lambda: self._give_up(order_id, status))
        if status is OrderStatus.PENDING_FULFILLMENT:
            return self._claimed(item, now, lambda: self._enqueue(order_id))
        return self._claimed(item, now, lambda: self._start(order_id, str(item["request_body"])))

    def _claimed(self, item: dict[str, Any], now: datetime, act: Callable[[], Action]) -> Action:
        status = OrderStatus(item["status"])
        after = (
            self.config.pending_after_seconds
            if status is OrderStatus.PENDING_FULFILLMENT
            else self.config.received_after_seconds
        )
        next_due = now + timedelta(seconds=after)
        if not self.orders.claim(str(item["order_id"]), status, str(item[DUE_AT]), next_due):
            return Action.SKIPPED
        return act()

    def _start(self, order_id: str, request_body: str) -> Action:
        self.workflow.start(order_id, request_body)
        return Action.STARTED

    def _enqueue(self, order_id: str) -> Action:
        self.queue.enqueue(order_id)
        return Action.ENQUEUED

    # Record first, status second: once the order is terminal no run looks at it again,
    # so a failed record write must leave it non-terminal for the next run to retry.
    def _give_up(self, order_id: str, status: OrderStatus) -> Action:
        pending = status is OrderStatus.PENDING_FULFILLMENT
        stage = FailureStage.FULFILLMENT if pending else FailureStage.WORKFLOW
        attempts = self.config.max_attempts
        why = (
            f"still {status.value} after {attempts} reconciliation attempt(s)"
            if pending
            else f"its workflow did not store or reject it after {attempts} restart(s)"
        )
        recorded = self.failed_orders.record(order_id, stage, [why])
        moved = self.orders.mark_fulfillment_failed(order_id, stage, [why])
        if moved is not None:
            metrics.record_final(BusinessMetric.ORDERS_FAILED, moved.created_at, stage=stage)
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
    with metrics.published():
        actions = _reconciler().run(millis_left=getattr(context, "get_remaining_time_in_millis", None))
        for action, count in actions.items():
            metrics.record(BusinessMetric.RECONCILER_ACTIONS, count, action=action.value)
    summary = {action.value: actions.get(action, 0) for action in Action}
    # Once a run; at INFO only when the run found something, not every idle minute.
    (logger.info if any(summary.values()) else logger.debug)("reconciliation finished", extra=summary)
    return summary
