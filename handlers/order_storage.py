"""order_storage λ: every write the workflow makes to the order tables.

One function with three typed operations, so that money is converted to ``Decimal``
and every status change is conditional in one place. Each operation is safe to run
twice: Step Functions retries tasks, so it will.
"""

from __future__ import annotations

from typing import Any

from handlers import aws, faults, metrics, settings
from handlers.business_metrics import BusinessMetric
from handlers.errors import OrderAlreadyFinalError, OrderStateConflictError
from handlers.models import FailureStage, OrderStatus
from handlers.observability import get_logger
from handlers.repository import FailedOrderRepository, FinalMove, OrderRepository
from handlers.storage_requests import (
    RecordRejection,
    RecordWorkflowFailure,
    StorageRequest,
    StoreValidatedOrder,
    parse_storage_request,
)

logger = get_logger("order_storage")

MAX_CAUSE_LENGTH = 2000


class OrderStorageService:
    def __init__(self, orders: OrderRepository, failed_orders: FailedOrderRepository) -> None:
        self.orders = orders
        self.failed_orders = failed_orders

    def store_validated(self, request: StoreValidatedOrder) -> OrderStatus:
        """Store the order PENDING_FULFILLMENT, for the workflow to enqueue; an order that is
        already final raises ``OrderAlreadyFinalError``, which ends the execution quietly."""
        if self.orders.store_validated(request.order_id, request.order):
            return OrderStatus.PENDING_FULFILLMENT
        current = self._current_status(request.order_id)
        raise OrderAlreadyFinalError(f"order {request.order_id} is already {current}")

    # Status first, record second: an order that already moved on gets no failure
    # record, and a retry after a crash between the two writes still writes it.
    def record_rejection(self, request: RecordRejection) -> OrderStatus:
        moved = self.orders.mark_rejected(request.order_id, request.reasons)
        if moved is not None and moved.newly_final:  # counted before the record: a retry won't
            metrics.record_final(BusinessMetric.ORDERS_REJECTED, moved.created_at)
        status = self._moved_to(OrderStatus.REJECTED, request.order_id, moved)
        if status is OrderStatus.REJECTED:
            self.failed_orders.record(request.order_id, FailureStage.VALIDATION, request.reasons)
        return status

    def record_workflow_failure(self, request: RecordWorkflowFailure) -> OrderStatus:
        reasons = [f"workflow step failed: {request.error}"]
        moved = self.orders.mark_fulfillment_failed(request.order_id, FailureStage.WORKFLOW, reasons)
        if moved is not None:
            metrics.record_final(BusinessMetric.ORDERS_FAILED, moved.created_at, stage=FailureStage.WORKFLOW)
        status = self._moved_to(OrderStatus.FULFILLMENT_FAILED, request.order_id, moved)
        if status is OrderStatus.FULFILLMENT_FAILED:
            cause = request.cause[:MAX_CAUSE_LENGTH]
            self.failed_orders.record(
                request.order_id, FailureStage.WORKFLOW, reasons, error=request.error, cause=cause
            )
        return status

    def _moved_to(self, target: OrderStatus, order_id: str, moved: FinalMove | None) -> OrderStatus:
        return target if moved is not None else self._current_status(order_id)

    def handle(self, request: StorageRequest) -> OrderStatus:
        if isinstance(request, StoreValidatedOrder):
            return self.store_validated(request)
        if isinstance(request, RecordRejection):
            return self.record_rejection(request)
        return self.record_workflow_failure(request)

    def _current_status(self, order_id: str) -> OrderStatus:
        item = self.orders.get(order_id)
        if item is None:
            raise OrderStateConflictError(f"order {order_id} vanished during a conditional write")
        return OrderStatus(item["status"])


def _default_service() -> OrderStorageService:
    dynamodb = aws.dynamodb_resource()
    return OrderStorageService(
        OrderRepository(settings.require(settings.ORDERS_TABLE_NAME), dynamodb),
        FailedOrderRepository(settings.require(settings.FAILED_ORDERS_TABLE_NAME), dynamodb),
    )


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    faults.inject_transient(faults.FaultPoint.ORDER_STORAGE)
    request = parse_storage_request(event)
    with metrics.published():
        status = _default_service().handle(request)
    logger.info(
        "order stored",
        extra={"order_id": request.order_id, "operation": request.operation, "status": status.value},
    )
    return {"order_id": request.order_id, "status": status.value}
