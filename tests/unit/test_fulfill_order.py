"""fulfill_order λ: simulated fulfillment with partial batch failures and exactly-once FULFILLED."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest

from handlers import fulfill_order
from handlers.errors import FulfillmentAttemptError, PoisonMessageError
from handlers.fulfill_order import FulfillmentOutcome, FulfillmentService
from handlers.models import DUE_AT, IN_FLIGHT_SHARD, OrderStatus
from handlers.repository import FinalMove, OrderRepository
from tests.unit.conftest import Tables
from tests.unit.support import (
    ORDERS_TABLE,
    fail_dynamodb,
    get_item,
    order_message,
    seed_order,
    sqs_event,
    sqs_record,
)

PENDING = OrderStatus.PENDING_FULFILLMENT.value


def set_rate(monkeypatch: pytest.MonkeyPatch, rate: str) -> None:
    monkeypatch.setenv("FULFILLMENT_SUCCESS_RATE", rate)


def deliver(*pairs: tuple[str, str]) -> dict[str, Any]:
    """Invoke the handler with (message id, body) pairs, as the SQS event source would."""
    return fulfill_order.handler(sqs_event(*(sqs_record(mid, body) for mid, body in pairs)), None)


def failed_ids(response: dict[str, Any]) -> list[str]:
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def order(tables: Tables, order_id: str) -> dict[str, Any]:
    item = get_item(tables.orders, order_id)
    assert item is not None, f"order {order_id} missing"
    return item


def test_success_rate_one_fulfills_the_order(handler_tables: Tables, monkeypatch: pytest.MonkeyPatch) -> None:
    set_rate(monkeypatch, "1")
    seed_order(handler_tables.orders, "ord-1", PENDING)

    response = deliver(("msg-1", order_message("ord-1")))

    assert response == {"batchItemFailures": []}
    item = order(handler_tables, "ord-1")
    assert item["status"] == "FULFILLED"
    assert item["fulfillment_attempts"] == 1
    assert "fulfilled_at" in item
    assert "last_fulfillment_error" not in item
    # Final: out of the in-flight index, and no raw body kept.
    assert not {IN_FLIGHT_SHARD, DUE_AT, "request_body"} & set(item)


def test_success_rate_zero_reports_the_message_and_counts_the_attempt(
    handler_tables: Tables, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_rate(monkeypatch, "0")
    seeded = seed_order(handler_tables.orders, "ord-1", PENDING)

    first = deliver(("msg-1", order_message("ord-1")))
    second = deliver(("msg-1", order_message("ord-1")))

    assert failed_ids(first) == ["msg-1"]
    assert failed_ids(second) == ["msg-1"]
    item = order(handler_tables, "ord-1")
    assert item["status"] == PENDING
    assert item["fulfillment_attempts"] == 2
    assert item["last_fulfillment_error"] == fulfill_order.SIMULATED_FAILURE
    assert "fulfilled_at" not in item
    # Still in flight, with the same deadline: a failed attempt writes nothing to the index.
    assert (item[IN_FLIGHT_SHARD], item[DUE_AT]) == (seeded[IN_FLIGHT_SHARD], seeded[DUE_AT])


def test_a_duplicate_delivery_of_a_fulfilled_order_is_acknowledged_and_changes_nothing(
    handler_tables: Tables, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_rate(monkeypatch, "1")
    seed_order(handler_tables.orders, "ord-1", PENDING)
    assert deliver(("msg-1", order_message("ord-1"))) == {"batchItemFailures": []}
    fulfilled = order(handler_tables, "ord-1")

    again = deliver(("msg-1", order_message("ord-1")), ("msg-1-dup", order_message("ord-1")))

    assert again == {"batchItemFailures": []}
    item = order(handler_tables, "ord-1")
    assert item["status"] == "FULFILLED"
    assert item["fulfilled_at"] == fulfilled["fulfilled_at"]
    assert item["fulfillment_attempts"] == fulfilled["fulfillment_attempts"] == 1


class StaleReads(OrderRepository):
    """Reads that still see the order pending: a duplicate delivery that read before another fulfilled it."""

    def get(self, order_id: str) -> dict[str, Any] | None:
        item = super().get(order_id)
        return None if item is None else {**item, "status": PENDING}


def test_a_duplicate_delivery_that_lost_the_race_does_not_count_an_attempt(handler_tables: Tables) -> None:
    seed_order(handler_tables.orders, "ord-1", PENDING)
    FulfillmentService(handler_tables.order_repository(), Decimal(1), random.Random(0)).fulfill("ord-1")
    fulfilled = order(handler_tables, "ord-1")
    assert fulfilled["fulfillment_attempts"] == 1
    racing = FulfillmentService(
        StaleReads(ORDERS_TABLE, handler_tables.dynamodb), Decimal(1), random.Random(0)
    )

    outcome = racing.fulfill("ord-1")

    assert outcome is FulfillmentOutcome.ALREADY_TERMINAL
    assert order(handler_tables, "ord-1") == fulfilled


def test_a_failed_duplicate_delivery_that_lost_the_race_does_not_count_an_attempt(
    handler_tables: Tables,
) -> None:
    seed_order(handler_tables.orders, "ord-1", OrderStatus.FULFILLED.value, fulfillment_attempts=1)
    racing = FulfillmentService(
        StaleReads(ORDERS_TABLE, handler_tables.dynamodb), Decimal(0), random.Random(0)
    )

    with pytest.raises(FulfillmentAttemptError):
        racing.fulfill("ord-1")

    item = order(handler_tables, "ord-1")
    assert item["status"] == "FULFILLED"
    assert item["fulfillment_attempts"] == 1
    assert "last_fulfillment_error" not in item


def test_failed_attempts_then_a_success_count_every_attempt_once(
    handler_tables: Tables, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_order(handler_tables.orders, "ord-1", PENDING)
    set_rate(monkeypatch, "0")
    deliver(("msg-1", order_message("ord-1")))
    deliver(("msg-1", order_message("ord-1")))
    set_rate(monkeypatch, "1")

    assert deliver(("msg-1", order_message("ord-1"))) == {"batchItemFailures": []}

    item = order(handler_tables, "ord-1")
    assert item["status"] == "FULFILLED"
    assert item["fulfillment_attempts"] == 3


@pytest.mark.parametrize(
    "status", [OrderStatus.FULFILLED, OrderStatus.FULFILLMENT_FAILED, OrderStatus.REJECTED]
)
def test_a_terminal_order_is_acknowledged_without_an_attempt(
    handler_tables: Tables, monkeypatch: pytest.MonkeyPatch, status: OrderStatus
) -> None:
    set_rate(monkeypatch, "0")
    seed_order(handler_tables.orders, "ord-1", status.value)

    response = deliver(("msg-1", order_message("ord-1")))

    assert response == {"batchItemFailures": []}
    item = order(handler_tables, "ord-1")
    assert item["status"] == status.value
    assert item["fulfillment_attempts"] == 0


@pytest.mark.parametrize(
    "poison",
    [
        "not json",
        "",
        "[]",
        "null",
        '{"order_id": ""}',
        '{"order_id": "   "}',
        '{"id": "ord-1"}',
        '{"order_id": 7}',
    ],
)
def test_only_the_poison_message_of_a_batch_is_reported(
    handler_tables: Tables, monkeypatch: pytest.MonkeyPatch, poison: str
) -> None:
    set_rate(monkeypatch, "1")
    seed_order(handler_tables.orders, "ord-good", PENDING)

    response = deliver(("msg-poison", poison), ("msg-good", order_message("ord-good")))

    assert failed_ids(response) == ["msg-poison"]
    assert order(handler_tables, "ord-good")["status"] == "FULFILLED"


def test_an_order_not_yet_pending_is_reported_failed_and_left_alone(
    handler_tables: Tables, monkeypatch: pytest.MonkeyPatch
) -> None:
    status = OrderStatus.RECEIVED
    set_rate(monkeypatch, "1")
    seed_order(handler_tables.orders, "ord-early", status.value)

    response = deliver(("msg-early", order_message("ord-early")))

    assert failed_ids(response) == ["msg-early"]
    item = order(handler_tables, "ord-early")
    assert item["status"] == status.value
    assert item["fulfillment_attempts"] == 0


def test_an_unknown_order_is_reported_failed_and_not_created(
    handler_tables: Tables, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_rate(monkeypatch, "1")

    response = deliver(("msg-ghost", order_message("ord-ghost")))

    assert failed_ids(response) == ["msg-ghost"]
    assert get_item(handler_tables.orders, "ord-ghost") is None


def test_a_mixed_batch_reports_exactly_the_messages_that_did_not_succeed(
    handler_tables: Tables, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_rate(monkeypatch, "1")
    seed_order(handler_tables.orders, "ord-pending", PENDING)
    seed_order(handler_tables.orders, "ord-done", OrderStatus.FULFILLED.value)
    seed_order(handler_tables.orders, "ord-received", OrderStatus.RECEIVED.value)

    response = deliver(
        ("m1", order_message("ord-pending")),
        ("m2", "garbage"),
        ("m3", order_message("ord-done")),
        ("m4", order_message("ord-received")),
        ("m5", order_message("ord-missing")),
    )

    assert failed_ids(response) == ["m2", "m4", "m5"]
    assert order(handler_tables, "ord-pending")["status"] == "FULFILLED"


def test_throttled_storage_returns_the_message_to_the_queue(
    handler_tables: Tables, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_rate(monkeypatch, "1")
    fail_dynamodb(monkeypatch, "ThrottlingException")

    response = deliver(("msg-1", order_message("ord-1")))

    assert failed_ids(response) == ["msg-1"]


def test_the_service_raises_distinct_errors_for_missing_and_unready_orders(handler_tables: Tables) -> None:
    seed_order(handler_tables.orders, "ord-received", OrderStatus.RECEIVED.value)
    service = FulfillmentService(handler_tables.order_repository(), Decimal(1), random.Random(0))

    with pytest.raises(PoisonMessageError):
        service.fulfill("ord-missing")
    with pytest.raises(FulfillmentAttemptError):
        service.fulfill("ord-received")


def _outcomes(service: FulfillmentService, order_ids: list[str]) -> list[bool]:
    results = []
    for order_id in order_ids:
        try:
            results.append(service.fulfill(order_id) is FulfillmentOutcome.FULFILLED)
        except FulfillmentAttemptError:
            results.append(False)
    return results


def test_the_same_seed_gives_the_same_outcomes(handler_tables: Tables) -> None:
    first_ids = [f"first-{n}" for n in range(25)]
    second_ids = [f"second-{n}" for n in range(25)]
    for order_id in first_ids + second_ids:
        seed_order(handler_tables.orders, order_id, PENDING)
    repository = handler_tables.order_repository()

    first = _outcomes(FulfillmentService(repository, Decimal("0.5"), random.Random(1234)), first_ids)
    second = _outcomes(FulfillmentService(repository, Decimal("0.5"), random.Random(1234)), second_ids)

    assert first == second
    assert True in first and False in first, "a 0.5 rate over 25 draws should mix outcomes"
    statuses = [order(handler_tables, oid)["status"] for oid in second_ids]
    assert statuses == ["FULFILLED" if ok else PENDING for ok in second]


def _run_seeded_batch(handler_tables: Tables, prefix: str) -> list[str]:
    ids = [f"{prefix}-{n}" for n in range(12)]
    for order_id in ids:
        seed_order(handler_tables.orders, order_id, PENDING)
    response = deliver(*((f"msg-{n}", order_message(oid)) for n, oid in enumerate(ids)))
    return failed_ids(response)


def test_the_seed_from_the_environment_makes_a_cold_start_reproducible(
    handler_tables: Tables, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_rate(monkeypatch, "0.5")
    monkeypatch.setenv("FULFILLMENT_RANDOM_SEED", "99")

    first = _run_seeded_batch(handler_tables, "cold-a")
    fulfill_order._rng_for_seed.cache_clear()  # a new Lambda execution environment
    second = _run_seeded_batch(handler_tables, "cold-b")

    assert first == second
    assert 0 < len(first) < 12, "a 0.5 rate over 12 draws should mix outcomes"


def test_warm_invocations_continue_the_seeded_sequence_instead_of_repeating_it(
    handler_tables: Tables, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_rate(monkeypatch, "0.5")
    monkeypatch.setenv("FULFILLMENT_RANDOM_SEED", "7")
    outcomes = []
    for n in range(20):
        seed_order(handler_tables.orders, f"warm-{n}", PENDING)
        outcomes.append(deliver((f"msg-{n}", order_message(f"warm-{n}"))) == {"batchItemFailures": []})

    assert len(set(outcomes)) == 2, "each invocation must draw anew, not re-seed"


class InMemoryOrders(OrderRepository):
    """Pending orders in a dict: thousands of draws without thousands of DynamoDB calls."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def add_pending(self, order_id: str) -> None:
        self.items[order_id] = {"order_id": order_id, "status": PENDING, "fulfillment_attempts": 0}

    def get(self, order_id: str) -> dict[str, Any] | None:
        return self.items.get(order_id)

    def record_fulfillment_attempt(self, order_id: str, error: str) -> bool:
        if self.items[order_id]["status"] != PENDING:
            return False
        self.items[order_id]["fulfillment_attempts"] += 1
        return True

    def mark_fulfilled(self, order_id: str) -> FinalMove | None:
        if self.items[order_id]["status"] != PENDING:
            return None
        self.items[order_id]["status"] = "FULFILLED"
        self.items[order_id]["fulfillment_attempts"] += 1
        return FinalMove(created_at=None, newly_final=True)


def _fulfilled_fraction(rate: str, draws: int, seed: int) -> float:
    orders = InMemoryOrders()
    ids = [f"o-{n}" for n in range(draws)]
    for order_id in ids:
        orders.add_pending(order_id)
    outcomes = _outcomes(FulfillmentService(orders, Decimal(rate), random.Random(seed)), ids)
    assert all(orders.items[oid]["fulfillment_attempts"] == 1 for oid in ids)
    return sum(outcomes) / draws


@pytest.mark.parametrize("seed", [1, 2024, 31337])
def test_the_success_rate_is_honoured_over_many_draws(seed: int) -> None:
    # 2000 draws at p=0.7: the standard deviation is about 0.01, so 0.05 is a five-sigma bound.
    assert abs(_fulfilled_fraction("0.7", 2000, seed) - 0.7) < 0.05


@pytest.mark.parametrize(("rate", "expected"), [("1", 1.0), ("0", 0.0)])
def test_rates_zero_and_one_are_exact(rate: str, expected: float) -> None:
    assert _fulfilled_fraction(rate, 500, 5) == expected
