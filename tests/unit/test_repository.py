"""OrderRepository: the in-flight index, claims, redrives, one-write fulfillment; failed-order records."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from handlers.models import (
    IN_FLIGHT_INDEX,
    IN_FLIGHT_SHARDS,
    FailureStage,
    OrderStatus,
    in_flight_shard,
    parse_json_decimal,
)
from handlers.order_shape import parse_order
from handlers.repository import FinalMove, OrderRepository, utc_iso
from tests.unit.conftest import Tables
from tests.unit.support import fixture_text, get_item, seed_order

PENDING = OrderStatus.PENDING_FULFILLMENT.value
FAILED = OrderStatus.FULFILLMENT_FAILED.value
SEEN = "2024-01-01T00:00:00.000Z"


class PagedTable:
    """A boto3 Table whose queries return at most ``limit`` items a page, as a full 1 MB page would."""

    def __init__(self, table: Any, limit: int) -> None:
        self._table = table
        self.limit = limit
        self.queries: list[dict[str, Any]] = []

    def query(self, **kwargs: Any) -> Any:
        self.queries.append(kwargs)
        return self._table.query(Limit=self.limit, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)


def paged(orders: OrderRepository, limit: int) -> PagedTable:
    table = PagedTable(orders.table, limit)
    orders.table = table
    return table


def minutes_ago(minutes: int) -> str:
    return utc_iso(datetime.now(UTC) - timedelta(minutes=minutes))


def at(minutes_from_now: int) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=minutes_from_now)


IN_FLIGHT_KEYS = {"in_flight", "due_at"}
VALID = parse_order(parse_json_decimal(fixture_text("valid_order.json")))


# --- the in-flight index ----------------------------------------------------------------------


def test_due_ids_reads_every_shard_and_page_longest_overdue_first(tables: Tables) -> None:
    for minute in range(40):  # more orders than shards: some shard holds several
        seed_order(tables.orders, f"r-{minute}", "RECEIVED", due_at=minutes_ago(60 - minute))
    seed_order(tables.orders, "p-1", PENDING, due_at=minutes_ago(90))
    seed_order(tables.orders, "not-yet", PENDING, due_at=utc_iso(at(5)))
    orders = tables.order_repository()
    table = paged(orders, limit=1)

    found = orders.due_ids(datetime.now(UTC))

    assert found == ["p-1"] + [f"r-{minute}" for minute in range(40)]
    assert len({in_flight_shard(order_id) for order_id in found}) > 1, "spread over shards"
    shards = {query["ExpressionAttributeValues"][":shard"] for query in table.queries}
    assert shards == {f"{shard:02d}" for shard in range(IN_FLIGHT_SHARDS)}
    assert all(query["IndexName"] == IN_FLIGHT_INDEX for query in table.queries)
    assert any("ExclusiveStartKey" in query for query in table.queries), "one item a page takes pages"


def test_due_ids_includes_an_order_due_exactly_now_and_no_final_order(tables: Tables) -> None:
    now = datetime.now(UTC)
    seed_order(tables.orders, "due-now", PENDING, due_at=utc_iso(now))
    seed_order(tables.orders, "fulfilled", "FULFILLED")  # final: no in-flight keys, not in the index

    assert tables.order_repository().due_ids(now) == ["due-now"]


def test_shards_spread_many_orders_evenly(tables: Tables) -> None:
    counts = [0] * IN_FLIGHT_SHARDS
    for index in range(16_000):
        counts[int(in_flight_shard(f"order-{index}"))] += 1

    assert max(counts) < 16_000 / 10, "no shard takes a tenth of the orders"
    assert min(counts) > 16_000 / IN_FLIGHT_SHARDS * 0.8


def test_an_order_written_by_create_received_is_in_flight_and_due_when_asked(tables: Tables) -> None:
    orders = tables.order_repository()
    assert orders.create_received("o-1", "{}", "0" * 64, None, at(2))

    assert orders.due_ids(at(1)) == []
    assert orders.due_ids(at(3)) == ["o-1"]
    item = get_item(tables.orders, "o-1")
    assert item is not None
    assert item["in_flight"] == in_flight_shard("o-1")
    assert "fulfillment_attempts" not in item, "counted by the first ADD, not written up front"


def test_store_validated_makes_a_received_order_pending_in_one_write_without_its_body(
    tables: Tables,
) -> None:
    orders = tables.order_repository()
    assert orders.create_received("o-1", fixture_text("valid_order.json"), "0" * 64, None, at(-1))
    valid = parse_order(parse_json_decimal(fixture_text("valid_order.json")))

    assert orders.store_validated("o-1", valid) is True

    item = get_item(tables.orders, "o-1")
    assert item is not None
    assert item["status"] == PENDING
    assert "request_body" not in item, "the typed order replaces the raw body"
    assert item["customer_id"] == valid.customer_id and "validated_at" in item
    assert orders.due_ids(at(-1)) == ["o-1"], "its deadline, and so the index, unchanged"


@pytest.mark.parametrize("status", ["FULFILLED", FAILED, "REJECTED"])
def test_store_validated_of_a_final_order_changes_nothing(tables: Tables, status: str) -> None:
    seeded = seed_order(tables.orders, "o-1", status)
    valid = parse_order(parse_json_decimal(fixture_text("valid_order.json")))

    assert tables.order_repository().store_validated("o-1", valid) is False

    assert get_item(tables.orders, "o-1") == seeded


@pytest.mark.parametrize(
    "finish",
    [
        lambda orders: orders.mark_fulfilled("o-1"),
        lambda orders: orders.mark_fulfillment_failed("o-1", FailureStage.FULFILLMENT, ["x"]),
    ],
    ids=["fulfilled", "failed"],
)
def test_a_final_status_takes_the_order_out_of_the_in_flight_index(
    tables: Tables, finish: Callable[[OrderRepository], FinalMove | None]
) -> None:
    seed_order(tables.orders, "o-1", PENDING)
    orders = tables.order_repository()

    assert finish(orders) is not None

    item = get_item(tables.orders, "o-1")
    assert item is not None
    assert not IN_FLIGHT_KEYS & set(item)
    assert orders.due_ids(at(60)) == []


def test_a_rejection_takes_the_order_and_its_body_out(tables: Tables) -> None:
    seed_order(tables.orders, "o-1", "RECEIVED")

    assert tables.order_repository().mark_rejected("o-1", ["total does not add up"]) is not None

    item = get_item(tables.orders, "o-1")
    assert item is not None
    assert not (IN_FLIGHT_KEYS | {"request_body"}) & set(item)


# --- claims ---------------------------------------------------------------------------------


def test_a_claim_counts_the_attempt_and_moves_the_due_time_on(tables: Tables) -> None:
    seed_order(tables.orders, "o-1", PENDING, due_at=SEEN, reconcile_attempts=2)
    next_due = at(10)

    assert tables.order_repository().claim("o-1", OrderStatus.PENDING_FULFILLMENT, SEEN, next_due) is True

    item = get_item(tables.orders, "o-1")
    assert item is not None
    assert item["status"] == PENDING
    assert item["reconcile_attempts"] == 3
    assert item["due_at"] == utc_iso(next_due)


def test_the_first_claim_counts_one_attempt(tables: Tables) -> None:
    seed_order(tables.orders, "o-1", "RECEIVED", due_at=SEEN)

    assert tables.order_repository().claim("o-1", OrderStatus.RECEIVED, SEEN, at(1)) is True

    item = get_item(tables.orders, "o-1")
    assert item is not None
    assert item["reconcile_attempts"] == 1


def test_a_claim_fails_when_the_due_time_changed_since_it_was_read(tables: Tables) -> None:
    seeded = seed_order(tables.orders, "o-1", PENDING, due_at="2024-01-01T00:00:05.000Z")

    assert tables.order_repository().claim("o-1", OrderStatus.PENDING_FULFILLMENT, SEEN, at(1)) is False

    assert get_item(tables.orders, "o-1") == seeded


def test_of_two_claims_of_what_was_read_once_only_the_first_wins(tables: Tables) -> None:
    seed_order(tables.orders, "o-1", PENDING, due_at=SEEN)
    orders = tables.order_repository()

    assert orders.claim("o-1", OrderStatus.PENDING_FULFILLMENT, SEEN, at(1)) is True
    assert orders.claim("o-1", OrderStatus.PENDING_FULFILLMENT, SEEN, at(1)) is False

    item = get_item(tables.orders, "o-1")
    assert item is not None
    assert item["reconcile_attempts"] == 1


@pytest.mark.parametrize(
    ("status", "move"),
    [
        ("RECEIVED", lambda orders: orders.store_validated("o-1", VALID)),
        (PENDING, lambda orders: orders.mark_fulfilled("o-1")),
        (PENDING, lambda orders: orders.mark_fulfillment_failed("o-1", FailureStage.FULFILLMENT, ["x"])),
    ],
    ids=["to pending", "to fulfilled", "to failed"],
)
def test_a_change_of_status_clears_the_reconcilers_attempt_count(
    tables: Tables, status: str, move: Callable[[OrderRepository], object]
) -> None:
    # The count is per status: attempts spent starting an order do not shorten its
    # allowance once it is pending.
    seed_order(tables.orders, "o-1", status, updated_at=SEEN, reconcile_attempts=2)

    assert move(tables.order_repository()) not in (None, False)

    item = get_item(tables.orders, "o-1")
    assert item is not None
    assert item["status"] != status
    assert "reconcile_attempts" not in item


def test_a_claim_fails_when_the_status_changed(tables: Tables) -> None:
    seeded = seed_order(tables.orders, "o-1", "FULFILLED", due_at=SEEN)

    assert tables.order_repository().claim("o-1", OrderStatus.PENDING_FULFILLMENT, SEEN, at(1)) is False

    assert get_item(tables.orders, "o-1") == seeded


def test_a_claim_of_a_missing_order_fails_and_creates_nothing(tables: Tables) -> None:
    assert tables.order_repository().claim("ghost", OrderStatus.RECEIVED, SEEN, at(1)) is False
    assert get_item(tables.orders, "ghost") is None


# --- redrive -----------------------------------------------------------------------------------


FAILURE = {
    "stage": "fulfillment",
    "reasons": ["simulated fulfillment failure after 3 attempt(s)"],
    "failed_at": "2024-01-02T00:00:00.000Z",
}


def seed_failed(tables: Tables, order_id: str = "o-1", **fields: Any) -> dict[str, Any]:
    """A validated order the DLQ processor gave up on."""
    return seed_order(
        tables.orders,
        order_id,
        FAILED,
        **{
            "validated_at": SEEN,
            "failure_stage": "fulfillment",
            "failure_reasons": FAILURE["reasons"],
            "failed_at": FAILURE["failed_at"],
            "last_fulfillment_error": "simulated fulfillment failure",
            "fulfillment_attempts": 3,
            "reconcile_attempts": 2,
            **fields,
        },
    )


def test_reopen_for_fulfillment_makes_a_failed_order_pending_again(tables: Tables) -> None:
    seed_failed(tables)

    assert tables.order_repository().reopen_for_fulfillment("o-1", FAILURE, at(60)) is True

    item = get_item(tables.orders, "o-1")
    assert item is not None
    assert item["status"] == PENDING
    assert item["updated_at"] > SEEN
    assert "reconcile_attempts" not in item, "a redriven order gets every reconciliation attempt again"
    assert item["redrive_count"] == 1
    assert item["previous_failures"] == [FAILURE]
    for removed in ("failure_stage", "failure_reasons", "failed_at", "last_fulfillment_error"):
        assert removed not in item
    assert item["validated_at"] == SEEN
    assert item["fulfillment_attempts"] == 3, "the attempts made stay counted"


def test_a_second_redrive_keeps_the_earlier_failures_and_counts_the_redrive(tables: Tables) -> None:
    earlier = {**FAILURE, "failed_at": "2023-12-01T00:00:00.000Z"}
    seed_failed(tables, previous_failures=[earlier], redrive_count=1)

    assert tables.order_repository().reopen_for_fulfillment("o-1", FAILURE, at(60)) is True

    item = get_item(tables.orders, "o-1")
    assert item is not None
    assert item["previous_failures"] == [earlier, FAILURE]
    assert item["redrive_count"] == 2
    assert "reconcile_attempts" not in item, "a redriven order gets every reconciliation attempt again"


@pytest.mark.parametrize("status", ["RECEIVED", PENDING, "FULFILLED", "REJECTED"])
def test_reopen_for_fulfillment_only_reopens_a_failed_order(tables: Tables, status: str) -> None:
    seeded = seed_order(tables.orders, "o-1", status, validated_at=SEEN)

    assert tables.order_repository().reopen_for_fulfillment("o-1", FAILURE, at(60)) is False

    assert get_item(tables.orders, "o-1") == seeded


def test_reopen_for_fulfillment_refuses_an_order_that_failed_before_validation(tables: Tables) -> None:
    # Failed at the workflow stage while RECEIVED: nothing validated to fulfil.
    seeded = seed_order(tables.orders, "o-1", FAILED, failure_stage="workflow", failure_reasons=["x"])

    assert tables.order_repository().reopen_for_fulfillment("o-1", FAILURE, at(60)) is False

    assert get_item(tables.orders, "o-1") == seeded


def test_reopen_for_fulfillment_of_a_missing_order_creates_nothing(tables: Tables) -> None:
    assert tables.order_repository().reopen_for_fulfillment("ghost", FAILURE, at(60)) is False
    assert get_item(tables.orders, "ghost") is None


def test_a_reopened_order_is_back_in_flight_due_when_redrive_says(tables: Tables) -> None:
    seed_failed(tables)
    orders = tables.order_repository()
    assert orders.reopen_for_fulfillment("o-1", FAILURE, at(60))

    assert orders.due_ids(at(59)) == []
    assert orders.due_ids(at(61)) == ["o-1"]


def test_failed_order_ids_lists_the_records_of_the_stages_asked_for(tables: Tables) -> None:
    failed = tables.failed_repository()
    failed.record("f-1", FailureStage.FULFILLMENT, ["x"])
    failed.record("w-1", FailureStage.WORKFLOW, ["x"])
    failed.record("v-1", FailureStage.VALIDATION, ["x"])

    assert failed.order_ids([FailureStage.FULFILLMENT, FailureStage.WORKFLOW]) == ["f-1", "w-1"]
    assert failed.order_ids([FailureStage.VALIDATION]) == ["v-1"]


# --- failed-order records -------------------------------------------------------------------


def test_a_deleted_failure_record_can_be_written_again(tables: Tables) -> None:
    failed = tables.failed_repository()
    assert failed.record("o-1", FailureStage.FULFILLMENT, ["first"]) is True
    assert failed.record("o-1", FailureStage.FULFILLMENT, ["second"]) is False

    failed.delete("o-1")

    assert get_item(tables.failed, "o-1") is None
    assert failed.record("o-1", FailureStage.FULFILLMENT, ["third"]) is True
    item = get_item(tables.failed, "o-1")
    assert item is not None
    assert item["reasons"] == ["third"]


def test_deleting_a_missing_failure_record_is_a_no_op(tables: Tables) -> None:
    tables.failed_repository().delete("ghost")

    assert get_item(tables.failed, "ghost") is None


# --- fulfillment ----------------------------------------------------------------------------


@pytest.mark.parametrize("earlier_attempts", [0, 2])
def test_mark_fulfilled_counts_the_attempt_in_the_same_write(tables: Tables, earlier_attempts: int) -> None:
    seed_order(tables.orders, "o-1", PENDING, fulfillment_attempts=earlier_attempts)

    assert tables.order_repository().mark_fulfilled("o-1") is not None

    item = get_item(tables.orders, "o-1")
    assert item is not None
    assert item["status"] == "FULFILLED"
    assert item["fulfillment_attempts"] == earlier_attempts + 1
    assert "fulfilled_at" in item


@pytest.mark.parametrize(
    "status", [OrderStatus.FULFILLED, OrderStatus.FULFILLMENT_FAILED, OrderStatus.RECEIVED]
)
def test_mark_fulfilled_of_an_order_not_pending_changes_nothing(tables: Tables, status: OrderStatus) -> None:
    seeded = seed_order(tables.orders, "o-1", status.value, fulfillment_attempts=1)

    assert tables.order_repository().mark_fulfilled("o-1") is None

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


def test_expedite_brings_a_received_orders_deadline_forward(tables: Tables) -> None:
    orders = tables.order_repository()
    assert orders.create_received("o-1", "{}", "0" * 64, None, at(30))

    assert orders.expedite("o-1", at(2)) is True

    assert orders.due_ids(at(3)) == ["o-1"]


@pytest.mark.parametrize("status", [PENDING, "FULFILLED"])
def test_expedite_leaves_an_order_that_moved_on_alone(tables: Tables, status: str) -> None:
    seeded = seed_order(tables.orders, "o-1", status)

    assert tables.order_repository().expedite("o-1", at(2)) is False

    assert get_item(tables.orders, "o-1") == seeded


# --- what a final move reports, for the business metrics --------------------------------------


def test_a_final_move_reports_when_the_order_was_accepted(tables: Tables) -> None:
    seed_order(tables.orders, "o-1", PENDING, created_at="2024-01-01T00:00:00.000Z")

    moved = tables.order_repository().mark_fulfilled("o-1")

    assert moved == FinalMove(created_at="2024-01-01T00:00:00.000Z", newly_final=True)


def test_a_repeated_rejection_succeeds_but_is_not_newly_final(tables: Tables) -> None:
    seed_order(tables.orders, "o-1", "RECEIVED")
    orders = tables.order_repository()

    first = orders.mark_rejected("o-1", ["total does not add up"])
    again = orders.mark_rejected("o-1", ["total does not add up"])

    assert first is not None and first.newly_final
    assert again is not None and not again.newly_final


def test_failing_an_order_that_does_not_exist_reports_no_acceptance_time(tables: Tables) -> None:
    moved = tables.order_repository().mark_fulfillment_failed("ghost", FailureStage.WORKFLOW, ["x"])

    assert moved == FinalMove(created_at=None, newly_final=True)
