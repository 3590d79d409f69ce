"""dlq_processor λ: every dead letter leaves exactly one failed-orders record, and nothing moves back."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest

from handlers import dlq_processor, fulfill_order
from handlers.errors import FulfillmentAttemptError
from handlers.fulfill_order import FulfillmentService
from handlers.models import DUE_AT, IN_FLIGHT_SHARD, OrderStatus
from tests.unit.conftest import Tables
from tests.unit.support import (
    fail_dynamodb,
    get_item,
    order_message,
    scan_all,
    seed_order,
    sqs_event,
    sqs_record,
)

PENDING = OrderStatus.PENDING_FULFILLMENT.value


def dead_letters(*pairs: tuple[str, str]) -> dict[str, Any]:
    return dlq_processor.handler(sqs_event(*(sqs_record(mid, body, 3) for mid, body in pairs)), None)


def failed_attempts(tables: Tables, order_id: str, attempts: int) -> None:
    """The order as the queue leaves it after ``attempts`` unlucky deliveries."""
    seed_order(tables.orders, order_id, PENDING)
    service = FulfillmentService(tables.order_repository(), Decimal(0), random.Random(0))
    for _ in range(attempts):
        with pytest.raises(FulfillmentAttemptError):
            service.fulfill(order_id)


def test_a_pending_order_becomes_fulfillment_failed_with_its_attempts_recorded(
    handler_tables: Tables,
) -> None:
    failed_attempts(handler_tables, "ord-1", 3)

    response = dead_letters(("dlq-1", order_message("ord-1")))

    assert response == {"batchItemFailures": []}
    item = get_item(handler_tables.orders, "ord-1")
    assert item is not None
    assert item["status"] == "FULFILLMENT_FAILED"
    assert item["failure_stage"] == "fulfillment"
    assert not {IN_FLIGHT_SHARD, DUE_AT, "request_body"} & set(item)  # final: out of the in-flight index
    record = get_item(handler_tables.failed, "ord-1")
    assert record is not None
    assert record["stage"] == "fulfillment"
    assert len(record["reasons"]) == 1
    assert "3 attempt" in record["reasons"][0]
    assert fulfill_order.SIMULATED_FAILURE in record["reasons"][0]
    assert item["failure_reasons"] == record["reasons"]


def test_processing_the_same_dead_letter_twice_keeps_one_record(handler_tables: Tables) -> None:
    failed_attempts(handler_tables, "ord-1", 2)

    first = dead_letters(("dlq-1", order_message("ord-1")))
    second = dead_letters(("dlq-1", order_message("ord-1")))

    assert first == second == {"batchItemFailures": []}
    assert [record["order_id"] for record in scan_all(handler_tables.failed)] == ["ord-1"]
    item = get_item(handler_tables.orders, "ord-1")
    assert item is not None
    assert item["status"] == "FULFILLMENT_FAILED"


def test_an_order_fulfilled_late_stays_fulfilled_without_a_failed_record(handler_tables: Tables) -> None:
    seed_order(
        handler_tables.orders,
        "ord-late",
        OrderStatus.FULFILLED.value,
        fulfilled_at="2024-01-01T00:05:00.000Z",
        fulfillment_attempts=4,
    )

    response = dead_letters(("dlq-late", order_message("ord-late")))

    assert response == {"batchItemFailures": []}
    item = get_item(handler_tables.orders, "ord-late")
    assert item is not None
    assert item["status"] == "FULFILLED"
    assert item["fulfilled_at"] == "2024-01-01T00:05:00.000Z"
    assert "failure_reasons" not in item
    assert scan_all(handler_tables.failed) == []


@pytest.mark.parametrize("body", ["not json", "", '{"order_id": ""}', '["ord-1"]', '{"id": "ord-1"}'])
def test_an_unparseable_message_is_recorded_under_its_message_id(handler_tables: Tables, body: str) -> None:
    response = dead_letters(("dlq-bad-1", body))

    assert response == {"batchItemFailures": []}
    record = get_item(handler_tables.failed, "unparseable-message:dlq-bad-1")
    assert record is not None
    assert record["stage"] == "fulfillment"
    assert record["reasons"]
    assert record.get("message_body", "") == body
    assert scan_all(handler_tables.orders) == []


def test_a_deeply_nested_message_body_is_recorded_as_unparseable(handler_tables: Tables) -> None:
    body = "[" * 5_000 + "]" * 5_000

    response = dead_letters(("dlq-deep", body))

    assert response == {"batchItemFailures": []}
    record = get_item(handler_tables.failed, "unparseable-message:dlq-deep")
    assert record is not None
    assert record["message_body"] == body[: dlq_processor.MAX_RECORDED_BODY]


def test_an_unparseable_message_keeps_a_bounded_excerpt_of_its_body(handler_tables: Tables) -> None:
    body = "x" * (dlq_processor.MAX_RECORDED_BODY * 3)

    dead_letters(("dlq-big", body))
    dead_letters(("dlq-big", body))

    records = scan_all(handler_tables.failed)
    assert [record["order_id"] for record in records] == ["unparseable-message:dlq-big"]
    assert records[0]["message_body"] == body[: dlq_processor.MAX_RECORDED_BODY]


def test_an_unknown_order_gets_a_not_found_record_and_no_order_item(handler_tables: Tables) -> None:
    response = dead_letters(("dlq-ghost", order_message("ord-ghost")))

    assert response == {"batchItemFailures": []}
    record = get_item(handler_tables.failed, "ord-ghost")
    assert record is not None
    assert record["reasons"] == ["order not found"]
    assert get_item(handler_tables.orders, "ord-ghost") is None


def test_a_mixed_batch_records_each_dead_letter(handler_tables: Tables) -> None:
    failed_attempts(handler_tables, "ord-pending", 3)
    seed_order(handler_tables.orders, "ord-done", OrderStatus.FULFILLED.value)

    response = dead_letters(
        ("m1", order_message("ord-pending")),
        ("m2", "{{{"),
        ("m3", order_message("ord-done")),
        ("m4", order_message("ord-ghost")),
    )

    assert response == {"batchItemFailures": []}
    assert sorted(record["order_id"] for record in scan_all(handler_tables.failed)) == sorted(
        ["ord-pending", "unparseable-message:m2", "ord-ghost"]
    )


def test_throttled_storage_returns_the_dead_letter_for_another_try(
    handler_tables: Tables, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_dynamodb(monkeypatch, "ProvisionedThroughputExceededException")

    response = dead_letters(("m1", order_message("ord-1")), ("m2", "not json"))

    assert [failure["itemIdentifier"] for failure in response["batchItemFailures"]] == ["m1", "m2"]
