"""OrderRepository: conditional deletes of unstarted orders, one-write fulfillment."""

from __future__ import annotations

from typing import Any

import pytest

from handlers.models import OrderStatus
from tests.unit.conftest import Tables
from tests.unit.support import get_item, seed_order

PENDING = OrderStatus.PENDING_FULFILLMENT.value
EXECUTION_ARN = "arn:aws:states:ap-south-1:123456789012:execution:m:o-1"


def test_discard_unstarted_deletes_a_received_order_without_an_execution(tables: Tables) -> None:
    orders = tables.order_repository()
    assert orders.create_received("o-1", "{}", "0" * 64, None)

    assert orders.discard_unstarted("o-1") is True

    assert get_item(tables.orders, "o-1") is None


@pytest.mark.parametrize(
    ("status", "fields"),
    [
        (OrderStatus.RECEIVED.value, {"execution_arn": EXECUTION_ARN}),
        (OrderStatus.VALIDATED.value, {}),
        (PENDING, {}),
        (OrderStatus.FULFILLED.value, {}),
        (OrderStatus.REJECTED.value, {}),
    ],
    ids=["started", "validated", "pending", "fulfilled", "rejected"],
)
def test_discard_unstarted_keeps_an_order_that_started_or_moved_on(
    tables: Tables, status: str, fields: dict[str, Any]
) -> None:
    seeded = seed_order(tables.orders, "o-1", status, **fields)

    assert tables.order_repository().discard_unstarted("o-1") is False

    assert get_item(tables.orders, "o-1") == seeded


def test_discard_unstarted_of_a_missing_order_is_false_and_creates_nothing(tables: Tables) -> None:
    assert tables.order_repository().discard_unstarted("ghost") is False
    assert get_item(tables.orders, "ghost") is None


@pytest.mark.parametrize("earlier_attempts", [0, 2])
def test_mark_fulfilled_counts_the_attempt_in_the_same_write(tables: Tables, earlier_attempts: int) -> None:
    seed_order(tables.orders, "o-1", PENDING, fulfillment_attempts=earlier_attempts)

    assert tables.order_repository().mark_fulfilled("o-1") is True

    item = get_item(tables.orders, "o-1")
    assert item is not None
    assert item["status"] == "FULFILLED"
    assert item["fulfillment_attempts"] == earlier_attempts + 1
    assert "fulfilled_at" in item


@pytest.mark.parametrize(
    "status", [OrderStatus.FULFILLED, OrderStatus.FULFILLMENT_FAILED, OrderStatus.VALIDATED]
)
def test_mark_fulfilled_of_an_order_not_pending_changes_nothing(tables: Tables, status: OrderStatus) -> None:
    seeded = seed_order(tables.orders, "o-1", status.value, fulfillment_attempts=1)

    assert tables.order_repository().mark_fulfilled("o-1") is False

    assert get_item(tables.orders, "o-1") == seeded


def test_a_failed_attempt_is_counted_with_its_error_while_pending(tables: Tables) -> None:
    seed_order(tables.orders, "o-1", PENDING, fulfillment_attempts=1)

    assert tables.order_repository().record_fulfillment_attempt("o-1", "boom") is True

    item = get_item(tables.orders, "o-1")
    assert item is not None
    assert item["status"] == PENDING
    assert item["fulfillment_attempts"] == 2
    assert item["last_fulfillment_error"] == "boom"


@pytest.mark.parametrize("status", [OrderStatus.FULFILLED, OrderStatus.FULFILLMENT_FAILED])
def test_a_failed_attempt_is_not_counted_once_the_order_is_final(tables: Tables, status: OrderStatus) -> None:
    seeded = seed_order(tables.orders, "o-1", status.value, fulfillment_attempts=1)

    assert tables.order_repository().record_fulfillment_attempt("o-1", "boom") is False

    assert get_item(tables.orders, "o-1") == seeded
