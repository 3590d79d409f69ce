"""order_storage λ: conditional, typed, repeatable writes of the workflow's outcomes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from components.state_machine import LAMBDA_TRANSIENT_ERRORS, ORDER_ALREADY_FINAL_ERROR
from handlers import order_storage, validator
from handlers.errors import MalformedInputError, OrderAlreadyFinalError, TransientStorageError
from handlers.models import DUE_AT, IN_FLIGHT_SHARD, OrderStatus, in_flight_shard
from handlers.repository import utc_iso
from tests.unit.conftest import Tables
from tests.unit.support import (
    fail_dynamodb,
    find_floats,
    fixture_text,
    get_item,
    scan_all,
    seed_order,
)

ORDER_ID = "00000000-0000-4000-8000-00000000a001"
# The deadline the API gives an order, for its whole trip through workflow and fulfillment.
ORDER_DUE_AT = datetime(2030, 1, 1, tzinfo=UTC)
# What a final status takes off the order: the in-flight index's keys and the raw body.
FINAL_REMOVALS = (IN_FLIGHT_SHARD, DUE_AT, "request_body")


def receive(tables: Tables, order_id: str = ORDER_ID, body: str | None = None) -> None:
    """The order as the API leaves it: RECEIVED, with the client's raw body, in flight."""
    created = tables.order_repository().create_received(
        order_id, body or fixture_text("valid_order.json"), "f" * 64, None, ORDER_DUE_AT
    )
    assert created


def validation_output(body: str, order_id: str = ORDER_ID) -> dict[str, Any]:
    return validator.handler({"order_id": order_id, "request_body": body}, None)


def store_event(order_id: str = ORDER_ID) -> dict[str, Any]:
    """StoreOrder's payload, built from the validator's real output as the state machine does."""
    output = validation_output(fixture_text("valid_order.json"), order_id)
    assert output["valid"] is True
    return {"operation": "store_validated", "order_id": order_id, "order": output["order"]}


def rejection_event(order_id: str = ORDER_ID) -> dict[str, Any]:
    output = validation_output(fixture_text("order_with_wrong_total.json"), order_id)
    assert output["valid"] is False
    return {"operation": "record_rejection", "order_id": order_id, "reasons": output["reasons"]}


def test_store_validated_moves_received_to_pending_fulfillment_in_one_write(handler_tables: Tables) -> None:
    receive(handler_tables)
    before = get_item(handler_tables.orders, ORDER_ID)
    assert before is not None
    started = datetime.now(UTC)

    result = order_storage.handler(store_event(), None)

    finished = datetime.now(UTC)
    assert result == {"order_id": ORDER_ID, "status": "PENDING_FULFILLMENT"}
    item = get_item(handler_tables.orders, ORDER_ID)
    assert item is not None
    assert item["status"] == "PENDING_FULFILLMENT"
    assert item["customer_id"] == "cust_123"
    assert item["items"] == [
        {"product_id": "prod_001", "quantity": 2, "price": Decimal("29.99")},
        {"product_id": "prod_002", "quantity": 1, "price": Decimal("0.10")},
    ]
    assert all(isinstance(line["price"], Decimal) for line in item["items"])
    assert str(item["items"][0]["price"]) == "29.99"
    assert isinstance(item["total_amount"], Decimal)
    assert item["total_amount"] == Decimal("60.08")
    assert item["shipping_address"] == {
        "street": "123 Main St",
        "city": "Anytown",
        "state": "CA",
        "zip": "12345",
    }
    assert utc_iso(started) <= item["validated_at"] <= utc_iso(finished)
    assert "request_body" not in item  # the raw body is not kept once the order is typed
    assert item["created_at"] == before["created_at"]
    assert find_floats(item) == []


def test_a_stored_order_stays_in_flight_with_the_deadline_the_api_gave_it(handler_tables: Tables) -> None:
    """Storing writes neither index key: the in-flight index entry is left as it was."""
    receive(handler_tables)

    order_storage.handler(store_event(), None)

    item = get_item(handler_tables.orders, ORDER_ID)
    assert item is not None
    assert item[IN_FLIGHT_SHARD] == in_flight_shard(ORDER_ID)
    assert item[DUE_AT] == utc_iso(ORDER_DUE_AT)


def test_store_validated_twice_is_safe(handler_tables: Tables) -> None:
    receive(handler_tables)
    order_storage.handler(store_event(), None)
    first = get_item(handler_tables.orders, ORDER_ID)

    result = order_storage.handler(store_event(), None)

    assert result["status"] == "PENDING_FULFILLMENT"
    second = get_item(handler_tables.orders, ORDER_ID)
    assert first is not None and second is not None
    volatile = {"updated_at", "validated_at"}
    assert {k: v for k, v in second.items() if k not in volatile} == {
        k: v for k, v in first.items() if k not in volatile
    }


def test_store_validated_of_an_order_already_pending_keeps_its_fulfillment_progress(
    handler_tables: Tables,
) -> None:
    seeded = seed_order(
        handler_tables.orders,
        ORDER_ID,
        OrderStatus.PENDING_FULFILLMENT.value,
        fulfillment_attempts=2,
        last_fulfillment_error="simulated failure",
    )

    result = order_storage.handler(store_event(), None)

    assert result["status"] == "PENDING_FULFILLMENT"
    item = get_item(handler_tables.orders, ORDER_ID)
    assert item is not None
    assert item["status"] == "PENDING_FULFILLMENT"
    assert item["fulfillment_attempts"] == 2
    assert item["last_fulfillment_error"] == "simulated failure"
    assert (item[IN_FLIGHT_SHARD], item[DUE_AT]) == (seeded[IN_FLIGHT_SHARD], seeded[DUE_AT])


@pytest.mark.parametrize(
    "status", [OrderStatus.FULFILLED, OrderStatus.REJECTED, OrderStatus.FULFILLMENT_FAILED]
)
def test_store_validated_of_a_final_order_raises_the_error_the_workflow_catches(
    handler_tables: Tables, status: OrderStatus
) -> None:
    seed_order(handler_tables.orders, ORDER_ID, status.value)
    before = get_item(handler_tables.orders, ORDER_ID)

    with pytest.raises(OrderAlreadyFinalError, match=status.value) as raised:
        order_storage.handler(store_event(), None)

    # The Lambda error name is the exception's class name; the state machine's Catch matches it.
    assert type(raised.value).__name__ == ORDER_ALREADY_FINAL_ERROR
    assert get_item(handler_tables.orders, ORDER_ID) == before


def test_record_rejection_writes_the_reasons_and_a_failed_order_record(handler_tables: Tables) -> None:
    receive(handler_tables, body=fixture_text("order_with_wrong_total.json"))
    event = rejection_event()

    result = order_storage.handler(event, None)

    assert result == {"order_id": ORDER_ID, "status": "REJECTED"}
    item = get_item(handler_tables.orders, ORDER_ID)
    assert item is not None
    assert item["status"] == "REJECTED"
    assert item["failure_stage"] == "validation"
    assert item["failure_reasons"] == event["reasons"]
    assert [reason.split(":")[0] for reason in item["failure_reasons"]] == ["total_amount"]
    assert "failed_at" in item
    assert [name for name in FINAL_REMOVALS if name in item] == []
    failed = get_item(handler_tables.failed, ORDER_ID)
    assert failed is not None
    assert failed["stage"] == "validation"
    assert failed["reasons"] == event["reasons"]


def test_record_rejection_twice_keeps_one_failed_record(handler_tables: Tables) -> None:
    receive(handler_tables, body=fixture_text("order_with_wrong_total.json"))

    first = order_storage.handler(rejection_event(), None)
    second = order_storage.handler(rejection_event(), None)

    assert first["status"] == second["status"] == "REJECTED"
    assert [record["order_id"] for record in scan_all(handler_tables.failed)] == [ORDER_ID]
    item = get_item(handler_tables.orders, ORDER_ID)
    assert item is not None
    assert item["status"] == "REJECTED"


def test_record_workflow_failure_marks_the_order_failed_at_the_workflow_stage(handler_tables: Tables) -> None:
    seed_order(handler_tables.orders, ORDER_ID, OrderStatus.PENDING_FULFILLMENT.value)
    cause = "Lambda.Unknown: " + "x" * (order_storage.MAX_CAUSE_LENGTH * 2)

    result = order_storage.handler(
        {
            "operation": "record_workflow_failure",
            "order_id": ORDER_ID,
            "error": "States.TaskFailed",
            "cause": cause,
        },
        None,
    )

    assert result == {"order_id": ORDER_ID, "status": "FULFILLMENT_FAILED"}
    item = get_item(handler_tables.orders, ORDER_ID)
    assert item is not None
    assert item["status"] == "FULFILLMENT_FAILED"
    assert item["failure_stage"] == "workflow"
    assert any("States.TaskFailed" in reason for reason in item["failure_reasons"])
    assert [name for name in FINAL_REMOVALS if name in item] == []
    failed = get_item(handler_tables.failed, ORDER_ID)
    assert failed is not None
    assert failed["stage"] == "workflow"
    assert failed["error"] == "States.TaskFailed"
    assert cause.startswith(failed["cause"])
    assert len(failed["cause"]) == order_storage.MAX_CAUSE_LENGTH


def test_record_workflow_failure_twice_keeps_one_failed_record(handler_tables: Tables) -> None:
    receive(handler_tables)
    event = {"operation": "record_workflow_failure", "order_id": ORDER_ID, "error": "States.Timeout"}

    order_storage.handler(event, None)
    result = order_storage.handler(event, None)

    assert result["status"] == "FULFILLMENT_FAILED"
    assert len(scan_all(handler_tables.failed)) == 1
    item = get_item(handler_tables.orders, ORDER_ID)
    assert item is not None
    assert item["status"] == "FULFILLMENT_FAILED"


def test_record_workflow_failure_does_not_undo_a_fulfilled_order(handler_tables: Tables) -> None:
    seed_order(
        handler_tables.orders, ORDER_ID, OrderStatus.FULFILLED.value, fulfilled_at="2024-01-01T00:00:01.000Z"
    )

    result = order_storage.handler(
        {"operation": "record_workflow_failure", "order_id": ORDER_ID, "error": "States.Timeout"}, None
    )

    assert result["status"] == "FULFILLED"
    item = get_item(handler_tables.orders, ORDER_ID)
    assert item is not None
    assert item["status"] == "FULFILLED"
    assert item["fulfilled_at"] == "2024-01-01T00:00:01.000Z"
    assert scan_all(handler_tables.failed) == []


def test_record_rejection_of_an_order_that_moved_on_writes_no_failure_record(handler_tables: Tables) -> None:
    seed_order(handler_tables.orders, ORDER_ID, OrderStatus.PENDING_FULFILLMENT.value)

    result = order_storage.handler(
        {"operation": "record_rejection", "order_id": ORDER_ID, "reasons": ["x"]}, None
    )

    assert result["status"] == "PENDING_FULFILLMENT"
    assert scan_all(handler_tables.failed) == []


@pytest.mark.parametrize(
    "event",
    [
        {"operation": "delete_order", "order_id": ORDER_ID},
        {"order_id": ORDER_ID, "reasons": ["x"]},
        {"operation": "record_rejection", "order_id": ORDER_ID, "reasons": []},
        {"operation": "record_rejection", "reasons": ["x"]},
        {"operation": "record_workflow_failure", "order_id": ORDER_ID, "unexpected": "field"},
        {"operation": "store_validated", "order_id": ORDER_ID, "order": {"customer_id": "c"}},
    ],
    ids=[
        "unknown operation",
        "no operation",
        "rejection without reasons",
        "no order id",
        "unknown field",
        "incomplete order",
    ],
)
def test_a_malformed_request_is_refused_before_any_write(
    handler_tables: Tables, event: dict[str, Any]
) -> None:
    with pytest.raises(MalformedInputError):
        order_storage.handler(event, None)

    assert scan_all(handler_tables.orders) == []
    assert scan_all(handler_tables.failed) == []


def test_store_validated_refuses_money_with_more_than_two_decimals(handler_tables: Tables) -> None:
    event = store_event()
    event["order"]["items"][0]["price"] = "29.999"

    with pytest.raises(MalformedInputError):
        order_storage.handler(event, None)

    assert scan_all(handler_tables.orders) == []


def test_throttled_dynamodb_raises_the_error_the_state_machine_retries(
    handler_tables: Tables, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_dynamodb(monkeypatch, "ProvisionedThroughputExceededException")

    with pytest.raises(TransientStorageError) as raised:
        order_storage.handler(store_event(), None)

    assert type(raised.value).__name__ in LAMBDA_TRANSIENT_ERRORS
