"""dlq_processor λ: records the orders whose fulfillment failed for good.

Messages reach the DLQ after maxReceiveCount failed deliveries. The order moves to
FULFILLMENT_FAILED (unless a late attempt fulfilled it) and gets a failed-orders
record. Unparseable messages are recorded too, under their message id, so nothing
that reached the DLQ is dropped silently. Safe to run twice.
"""

from __future__ import annotations

from typing import Any

from handlers import aws, faults, metrics, settings
from handlers.business_metrics import BusinessMetric
from handlers.errors import PoisonMessageError
from handlers.models import FailureStage, OrderStatus
from handlers.observability import get_logger
from handlers.repository import FailedOrderRepository, OrderRepository
from handlers.sqs_batch import SqsRecord, parse_fulfillment_message, process_batch

logger = get_logger("dlq_processor")

MAX_RECORDED_BODY = 4000


def unparseable_message_key(message_id: str) -> str:
    return f"unparseable-message:{message_id}"


class DeadLetterService:
    def __init__(self, orders: OrderRepository, failed_orders: FailedOrderRepository) -> None:
        self.orders = orders
        self.failed_orders = failed_orders

    def record_final_failure(self, order_id: str) -> OrderStatus | None:
        """Mark the order FULFILLMENT_FAILED; returns its resulting status (None if unknown)."""
        item = self.orders.get(order_id)
        if item is None:
            self.failed_orders.record(order_id, FailureStage.FULFILLMENT, ["order not found"])
            return None
        attempts = int(item.get("fulfillment_attempts", 0))
        last_error = str(item.get("last_fulfillment_error", "fulfillment failed"))
        reasons = [f"{last_error} after {attempts} attempt(s)"]
        moved = self.orders.mark_fulfillment_failed(order_id, FailureStage.FULFILLMENT, reasons)
        if moved is None:
            current = self.orders.get(order_id)
            status = OrderStatus(current["status"]) if current else None
            if status is not OrderStatus.FULFILLMENT_FAILED:
                return status
        else:
            metrics.record_final(
                BusinessMetric.ORDERS_FAILED, moved.created_at, stage=FailureStage.FULFILLMENT
            )
        self.failed_orders.record(order_id, FailureStage.FULFILLMENT, reasons)
        return OrderStatus.FULFILLMENT_FAILED

    def record_unparseable(self, record: SqsRecord) -> None:
        self.failed_orders.record(
            unparseable_message_key(record.message_id),
            FailureStage.FULFILLMENT,
            ["message body is not a fulfillment message"],
            message_body=record.body[:MAX_RECORDED_BODY],
        )


def _service() -> DeadLetterService:
    dynamodb = aws.dynamodb_resource()
    return DeadLetterService(
        OrderRepository(settings.require(settings.ORDERS_TABLE_NAME), dynamodb),
        FailedOrderRepository(settings.require(settings.FAILED_ORDERS_TABLE_NAME), dynamodb),
    )


def handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    faults.inject_transient(faults.FaultPoint.DLQ_PROCESSOR)
    service = _service()

    def record_dead_letter(record: SqsRecord) -> None:
        try:
            message = parse_fulfillment_message(record)
        except PoisonMessageError:
            service.record_unparseable(record)
            logger.error("unparseable message recorded", extra={"message_id": record.message_id})
            return
        status = service.record_final_failure(message.order_id)
        logger.info(
            "dead letter processed",
            extra={"order_id": message.order_id, "status": status.value if status else None},
        )

    with metrics.published():
        response = process_batch(event, record_dead_letter, logger)
    faults.inject_crash(faults.FaultPoint.CRASH_BEFORE_ACK)
    return response
