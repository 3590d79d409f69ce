"""OrderRepository: the status index, claims, redrives, one-write fulfillment; failed-order records."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from handlers.models import STATUS_INDEX, FailureStage, OrderStatus
from handlers.repository import OrderRepository, utc_iso
from tests.unit.conftest import Tables
from tests.unit.support import get_item, seed_order

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


# --- the status index -----------------------------------------------------------------------


def test_ids_in_status_reads_every_page_oldest_first(tables: Tables) -> None:
    for minute in range(7):
        seed_order(tables.orders, f"r-{minute}", "RECEIVED", updated_at=minutes_ago(60 - minute))
    seed_order(tables.orders, "v-1", "VALIDATED", updated_at=minutes_ago(90))
    orders = tables.order_repository()
    table = paged(orders, limit=2)

    found = list(orders.ids_in_status(OrderStatus.RECEIVED))

    assert found == [f"r-{minute}" for minute in range(7)]
    assert len(table.queries) >= 4, "seven items two a page take four pages"
    assert all(query["IndexName"] == STATUS_INDEX for query in table.queries)
    assert "ExclusiveStartKey" not in table.queries[0]
    assert all("ExclusiveStartKey" in query for query in table.queries[1:])


def test_ids_in_status_lists_only_orders_updated_strictly_before_the_cutoff(tables: Tables) -> None:
    cutoff = minutes_ago(10)
    seed_order(tables.orders, "old", PENDING, updated_at=minutes_ago(30))
    seed_order(tables.orders, "at-cutoff", PENDING, updated_at=cutoff)
    seed_order(tables.orders, "new", PENDING, updated_at=minutes_ago(1))
    seed_order(tables.orders, "old-but-fulfilled", "FULFILLED", updated_at=minutes_ago(30))
    orders = tables.order_repository()
    paged(orders, limit=1)

    assert list(orders.ids_in_status(OrderStatus.PENDING_FULFILLMENT, cutoff)) == ["old"]
    assert sorted(orders.ids_in_status(OrderStatus.PENDING_FULFILLMENT)) == ["at-cutoff", "new", "old"]


def test_ids_in_status_of_a_status_nobody_has_is_empty(tables: Tables) -> None:
    seed_order(tables.orders, "o-1", "RECEIVED")

    assert list(tables.order_repository().ids_in_status(OrderStatus.REJECTED, minutes_ago(0))) == []


def test_an_order_written_by_create_received_is_in_the_status_index(tables: Tables) -> None:
    orders = tables.order_repository()
    assert orders.create_received("o-1", "{}", "0" * 64, None)

    assert list(orders.ids_in_status(OrderStatus.RECEIVED, minutes_ago(-1))) == ["o-1"]
    assert list(orders.ids_in_status(OrderStatus.RECEIVED, minutes_ago(1))) == []


# --- claims ---------------------------------------------------------------------------------


def test_a_claim_counts_the_attempt_and_touches_updated_at(tables: Tables) -> None:
    seed_order(tables.orders, "o-1", PENDING, updated_at=SEEN, reconcile_attempts=2)
    before = minutes_ago(0)

    assert tables.order_repository().claim("o-1", OrderStatus.PENDING_FULFILLMENT, SEEN) is True

    item = get_item(tables.orders, "o-1")
    assert item is not None
    assert item["status"] == PENDING
    assert item["reconcile_attempts"] == 3
    assert item["updated_at"] >= before


def test_the_first_claim_counts_one_attempt(tables: Tables) -> None:
    seed_order(tables.orders, "o-1", "RECEIVED", updated_at=SEEN)

    assert tables.order_repository().claim("o-1", OrderStatus.RECEIVED, SEEN) is True

    item = get_item(tables.orders, "o-1")
    assert item is not None
    assert item["reconcile_attempts"] == 1


def test_a_claim_fails_when_updated_at_changed_since_it_was_read(tables: Tables) -> None:
    seeded = seed_order(tables.orders, "o-1", PENDING, updated_at="2024-01-01T00:00:05.000Z")

    assert tables.order_repository().claim("o-1", OrderStatus.PENDING_FULFILLMENT, SEEN) is False

    assert get_item(tables.orders, "o-1") == seeded


def test_of_two_claims_of_what_was_read_once_only_the_first_wins(tables: Tables) -> None:
    seed_order(tables.orders, "o-1", PENDING, updated_at=SEEN)
    orders = tables.order_repository()

    assert orders.claim("o-1", OrderStatus.PENDING_FULFILLMENT, SEEN) is True
    assert orders.claim("o-1", OrderStatus.PENDING_FULFILLMENT, SEEN) is False

    item = get_item(tables.orders, "o-1")
    assert item is not None
    assert item["reconcile_attempts"] == 1


@pytest.mark.parametrize(
    ("status", "move"),
    [
        ("VALIDATED", lambda orders: orders.mark_pending_fulfillment("o-1")),
        (PENDING, lambda orders: orders.mark_fulfilled("o-1")),
        (PENDING, lambda orders: orders.mark_fulfillment_failed("o-1", FailureStage.FULFILLMENT, ["x"])),
    ],
    ids=["to pending", "to fulfilled", "to failed"],
)
def test_a_change_of_status_clears_the_reconcilers_attempt_count(
    tables: Tables, status: str, move: Callable[[OrderRepository], bool]
) -> None:
    # The count is per status: attempts spent starting an order do not shorten its
    # allowance once it is pending.
    seed_order(tables.orders, "o-1", status, updated_at=SEEN, reconcile_attempts=2)

    assert move(tables.order_repository()) is True

    item = get_item(tables.orders, "o-1")
    assert item is not None
    assert item["status"] != status
    assert "reconcile_attempts" not in item


def test_a_claim_fails_when_the_status_changed(tables: Tables) -> None:
    seeded = seed_order(tables.orders, "o-1", "FULFILLED", updated_at=SEEN)

    assert tables.order_repository().claim("o-1", OrderStatus.PENDING_FULFILLMENT, SEEN) is False

    assert get_item(tables.orders, "o-1") == seeded


def test_a_claim_of_a_missing_order_fails_and_creates_nothing(tables: Tables) -> None:
    assert tables.order_repository().claim("ghost", OrderStatus.RECEIVED, SEEN) is False
    assert get_item(tables.orders, "ghost") is None


# --- moving orders on outside the workflow ---------------------------------------------------


def test_mark_pending_fulfillment_moves_a_validated_order(tables: Tables) -> None:
    seed_order(tables.orders, "o-1", "VALIDATED", updated_at=SEEN, validated_at=SEEN)

    assert tables.order_repository().mark_pending_fulfillment("o-1") is True

    item = get_item(tables.orders, "o-1")
    assert item is not None
    assert item["status"] == PENDING
    assert item["updated_at"] > SEEN


@pytest.mark.parametrize("status", ["RECEIVED", PENDING, "FULFILLED", FAILED, "REJECTED"])
def test_mark_pending_fulfillment_of_an_order_not_validated_changes_nothing(
    tables: Tables, status: str
) -> None:
    seeded = seed_order(tables.orders, "o-1", status)

    assert tables.order_repository().mark_pending_fulfillment("o-1") is False

    assert get_item(tables.orders, "o-1") == seeded


def test_mark_pending_fulfillment_of_a_missing_order_creates_nothing(tables: Tables) -> None:
    assert tables.order_repository().mark_pending_fulfillment("ghost") is False
    assert get_item(tables.orders, "ghost") is None


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

    assert tables.order_repository().reopen_for_fulfillment("o-1", FAILURE) is True

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

    assert tables.order_repository().reopen_for_fulfillment("o-1", FAILURE) is True

    item = get_item(tables.orders, "o-1")
    assert item is not None
    assert item["previous_failures"] == [earlier, FAILURE]
    assert item["redrive_count"] == 2
    assert "reconcile_attempts" not in item, "a redriven order gets every reconciliation attempt again"


@pytest.mark.parametrize("status", ["RECEIVED", "VALIDATED", PENDING, "FULFILLED", "REJECTED"])
def test_reopen_for_fulfillment_only_reopens_a_failed_order(tables: Tables, status: str) -> None:
    seeded = seed_order(tables.orders, "o-1", status, validated_at=SEEN)

    assert tables.order_repository().reopen_for_fulfillment("o-1", FAILURE) is False

    assert get_item(tables.orders, "o-1") == seeded


def test_reopen_for_fulfillment_refuses_an_order_that_failed_before_validation(tables: Tables) -> None:
    # Failed at the workflow stage while RECEIVED: nothing validated to fulfil.
    seeded = seed_order(tables.orders, "o-1", FAILED, failure_stage="workflow", failure_reasons=["x"])

    assert tables.order_repository().reopen_for_fulfillment("o-1", FAILURE) is False

    assert get_item(tables.orders, "o-1") == seeded


def test_reopen_for_fulfillment_of_a_missing_order_creates_nothing(tables: Tables) -> None:
    assert tables.order_repository().reopen_for_fulfillment("ghost", FAILURE) is False
    assert get_item(tables.orders, "ghost") is None


def test_a_reopened_order_is_pending_in_the_status_index(tables: Tables) -> None:
    seed_failed(tables)
    orders = tables.order_repository()
    assert orders.reopen_for_fulfillment("o-1", FAILURE)

    assert list(orders.ids_in_status(OrderStatus.PENDING_FULFILLMENT)) == ["o-1"]
    assert list(orders.ids_in_status(OrderStatus.FULFILLMENT_FAILED)) == []


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
