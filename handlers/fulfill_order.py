"""fulfill_order λ: simulated fulfillment of the orders on the order queue.

Succeeds with the stack's configured probability. A failed attempt is reported as a
batch item failure, so SQS redelivers only that message and, after maxReceiveCount,
moves it to the DLQ. An order already FULFILLED is acknowledged and never fulfilled
again: the FULFILLED transition is a conditional write.
"""

from __future__ import annotations

import functools
import random
from decimal import Decimal
from enum import StrEnum
from typing import Any

from handlers import aws, faults, metrics, settings
from handlers.business_metrics import BusinessMetric
from handlers.errors import FulfillmentAttemptError, PoisonMessageError
from handlers.models import TERMINAL_STATUSES, OrderStatus
from handlers.observability import get_logger
from handlers.repository import OrderRepository
from handlers.sqs_batch import SqsRecord, parse_fulfillment_message, process_batch

logger = get_logger("fulfill_order")

SIMULATED_FAILURE = "simulated fulfillment failure"


class FulfillmentOutcome(StrEnum):
    FULFILLED = "fulfilled"
    ALREADY_TERMINAL = "already_terminal"


class FulfillmentService:
    def __init__(self, orders: OrderRepository, success_rate: Decimal, rng: random.Random) -> None:
        self.orders = orders
        self.success_rate = success_rate
        self.rng = rng

    def fulfill(self, order_id: str) -> FulfillmentOutcome:
        item = self.orders.get(order_id)
        if item is None:
            raise PoisonMessageError(f"order {order_id} does not exist")
        status = OrderStatus(item["status"])
        if status in TERMINAL_STATUSES:
            return FulfillmentOutcome.ALREADY_TERMINAL
        if status is not OrderStatus.PENDING_FULFILLMENT:
            raise FulfillmentAttemptError(f"order {order_id} is {status}, not yet pending fulfillment")
        metrics.record(BusinessMetric.FULFILLMENT_ATTEMPTS)
        if not self._attempt_succeeds():
            # Not counted when the order stopped pending meanwhile (a racing delivery
            # fulfilled it); the redelivery then finds it terminal and acknowledges it.
            self.orders.record_fulfillment_attempt(order_id, SIMULATED_FAILURE)
            raise FulfillmentAttemptError(SIMULATED_FAILURE)
        # One conditional write moves the order and counts the attempt; a delivery that
        # lost the race to another writer changes nothing.
        moved = self.orders.mark_fulfilled(order_id)
        if moved is None:
            return FulfillmentOutcome.ALREADY_TERMINAL
        metrics.record_final(BusinessMetric.ORDERS_FULFILLED, moved.created_at)
        return FulfillmentOutcome.FULFILLED

    def _attempt_succeeds(self) -> bool:
        # The draw is a probability, not money; Decimal keeps 0 and 1 exact.
        return Decimal(repr(self.rng.random())) < self.success_rate


@functools.cache
def _rng_for_seed(seed: int | None) -> random.Random:
    # One generator per seed for the process's lifetime: re-seeding on every
    # invocation would repeat the same draw for every message.
    return random.Random(seed)


def _service() -> FulfillmentService:
    rng = _rng_for_seed(settings.optional_int(settings.FULFILLMENT_RANDOM_SEED, None))
    orders = OrderRepository(settings.require(settings.ORDERS_TABLE_NAME), aws.dynamodb_resource())
    return FulfillmentService(orders, settings.success_rate(), rng)


def handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    faults.inject_transient(faults.FaultPoint.FULFILL_ORDER)
    service = _service()

    def fulfill_record(record: SqsRecord) -> None:
        message = parse_fulfillment_message(record)
        outcome = service.fulfill(message.order_id)
        # A redelivery of a final order is routine: its outcome was logged when it became final.
        log = logger.info if outcome is FulfillmentOutcome.FULFILLED else logger.debug
        log(
            "order fulfillment processed",
            extra={
                "order_id": message.order_id,
                "message_id": record.message_id,
                "outcome": outcome.value,
                "receive_count": record.receive_count,
            },
        )

    with metrics.published():
        response = process_batch(event, fulfill_record, logger)
    faults.inject_crash(faults.FaultPoint.CRASH_BEFORE_ACK)
    return response
