"""DynamoDB's size and unit rules (benchmarks/cost/capacity.py), against sizes worked out by hand."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

import pytest

from benchmarks.cost.capacity import (
    IndexSpec,
    TableSpec,
    UnitsOnKey,
    failed_write_cost,
    item_size,
    number_size,
    read_units,
    write_cost,
    write_units,
)

STATUS_INDEX = IndexSpec("status-index", "status", "updated_at", "KEYS_ONLY")
ORDERS = TableSpec("orders", "order_id", None, (STATUS_INDEX,))


def padded(size: int, **attributes: Any) -> dict[str, Any]:
    """An order item of exactly ``size`` bytes: ``order_id`` "o1" (10 bytes), the attributes
    given, and a string ``pad`` (3 bytes of name) making up the rest."""
    item: dict[str, Any] = {"order_id": {"S": "o1"}, **attributes}
    rest = size - item_size(item) - len("pad")
    assert rest >= 0
    return {**item, "pad": {"S": "x" * rest}}


@pytest.mark.parametrize(
    ("text", "size"),
    [("60.08", 3), ("100", 2), ("0.001", 2), ("12345", 4), ("-7", 2), ("1234567890", 6)],
)
def test_a_number_is_one_byte_per_two_significant_digits_plus_one(text: str, size: int) -> None:
    assert number_size(text) == size


def test_item_sizes_by_type_worked_out_by_hand() -> None:
    assert item_size({"order_id": {"S": "abc"}}) == 8 + 3
    assert item_size({"city": {"S": "Zürich"}}) == 4 + 7  # ü is two bytes in UTF-8
    assert item_size({"ok": {"BOOL": True}, "none": {"NULL": True}}) == (2 + 1) + (4 + 1)
    assert item_size({"b": {"B": base64.b64encode(b"0123456789").decode()}}) == 1 + 10
    assert item_size({"tags": {"SS": ["ab", "cde"]}}) == 4 + 2 + 3
    # A list of one map {"q": 2}: the map is 3 + (1 + 1 + 2) = 7, the list 3 + (1 + 7) = 11.
    assert item_size({"items": {"L": [{"M": {"q": {"N": "2"}}}]}}) == 5 + 11
    assert item_size({"empty": {"M": {}}}) == 5 + 3
    assert item_size(None) == 0


def test_write_units_round_up_per_kilobyte() -> None:
    assert [write_units(n) for n in (0, 1, 1024, 1025, 2048, 3000)] == [1, 1, 1, 2, 2, 3]


def test_an_update_from_900_to_1500_bytes_costs_2_write_units() -> None:
    before, after = padded(900), padded(1500)
    assert (item_size(before), item_size(after)) == (900, 1500)
    cost = write_cost(TableSpec("t", "order_id", None), before, after)
    assert cost.table == UnitsOnKey("", "o1", 2)
    assert cost.units == 2


def test_an_update_that_shrinks_an_item_costs_the_larger_size() -> None:
    cost = write_cost(TableSpec("t", "order_id", None), padded(2100), padded(500))
    assert cost.units == 3


def test_a_delete_costs_the_deleted_item_and_a_put_of_a_new_item_its_own_size() -> None:
    table = TableSpec("t", "order_id", None)
    assert write_cost(table, padded(3000), None).units == 3
    assert write_cost(table, None, padded(1024)).units == 1
    assert write_cost(table, None, padded(1025)).units == 2


def test_a_transactional_write_costs_twice_table_and_index() -> None:
    item = padded(1500, status={"S": "RECEIVED"}, updated_at={"S": "t1"})
    cost = write_cost(ORDERS, None, item, transactional=True)
    assert cost.table.units == 4
    assert [w.units for w in cost.index_writes] == [2]


def test_a_failed_conditional_write_costs_the_item_already_there_and_no_index_write() -> None:
    existing = padded(2100, status={"S": "FULFILLED"}, updated_at={"S": "t1"})
    cost = failed_write_cost(ORDERS, existing, "o1")
    assert (cost.units, cost.index_writes) == (3, ())
    assert failed_write_cost(ORDERS, None, "o2").units == 1


class TestIndexWrites:
    """KEYS_ONLY status index keyed (status, updated_at): the index entry is order_id,
    status and updated_at only, e.g. 10 + (6 + 8) + (10 + 2) = 36 bytes, 1 unit."""

    def test_a_new_item_with_the_index_key_is_one_index_write_on_its_key(self) -> None:
        item = padded(1500, status={"S": "RECEIVED"}, updated_at={"S": "t1"})
        cost = write_cost(ORDERS, None, item)
        assert cost.index_writes == (UnitsOnKey("status-index", "RECEIVED", 1),)
        assert cost.units == 2 + 1

    def test_a_changed_index_key_is_a_delete_and_a_put(self) -> None:
        before = padded(800, status={"S": "RECEIVED"}, updated_at={"S": "t1"})
        after = padded(800, status={"S": "VALIDATED"}, updated_at={"S": "t2"})
        cost = write_cost(ORDERS, before, after)
        assert cost.index_writes == (
            UnitsOnKey("status-index", "RECEIVED", 1),
            UnitsOnKey("status-index", "VALIDATED", 1),
        )

    def test_a_changed_range_key_alone_also_moves_the_entry(self) -> None:
        before = padded(800, status={"S": "PENDING"}, updated_at={"S": "t1"})
        after = padded(800, status={"S": "PENDING"}, updated_at={"S": "t2"})
        assert len(write_cost(ORDERS, before, after).index_writes) == 2

    def test_keys_only_with_no_key_change_writes_nothing(self) -> None:
        before = padded(800, status={"S": "PENDING"}, updated_at={"S": "t1"})
        after = padded(1900, status={"S": "PENDING"}, updated_at={"S": "t1"})
        assert write_cost(ORDERS, before, after).index_writes == ()

    def test_removing_the_key_is_one_delete(self) -> None:
        before = padded(800, status={"S": "PENDING"}, updated_at={"S": "t1"})
        after = padded(800, updated_at={"S": "t1"})
        assert write_cost(ORDERS, before, after).index_writes == (UnitsOnKey("status-index", "PENDING", 1),)

    def test_an_item_in_the_index_neither_before_nor_after_writes_nothing(self) -> None:
        assert write_cost(ORDERS, padded(800), padded(900)).index_writes == ()

    def test_all_projection_writes_any_change_sized_by_the_larger_entry(self) -> None:
        index = IndexSpec("by-status", "status", None, "ALL")
        table = TableSpec("t", "order_id", None, (index,))
        before = padded(900, status={"S": "PENDING"})
        after = padded(1500, status={"S": "PENDING"})
        assert write_cost(table, before, after).index_writes == (UnitsOnKey("by-status", "PENDING", 2),)

    def test_include_projection_writes_only_when_an_included_attribute_changes(self) -> None:
        index = IndexSpec("by-status", "status", None, "INCLUDE", frozenset({"total"}))
        table = TableSpec("t", "order_id", None, (index,))
        base = {"status": {"S": "PENDING"}, "total": {"N": "10"}}
        changed_total = write_cost(table, padded(500, **base), padded(500, **{**base, "total": {"N": "11"}}))
        changed_other = write_cost(table, padded(500, **base), padded(600, **base))
        assert [w.units for w in changed_total.index_writes] == [1]
        assert changed_other.index_writes == ()

    def test_an_index_write_is_sized_by_the_entry_not_the_item(self) -> None:
        index = IndexSpec("by-status", "status", None, "INCLUDE", frozenset({"notes"}))
        table = TableSpec("t", "order_id", None, (index,))
        # The item is 3,000 bytes, but only order_id, status and a 1,100-byte note are projected.
        item = padded(3000, status={"S": "PENDING"}, notes={"S": "n" * 1095})
        (write,) = write_cost(table, None, item).index_writes
        assert write.units == 2


@pytest.mark.parametrize(
    ("size", "consistent", "transactional", "units"),
    [
        (3500, True, False, Decimal(1)),
        (3500, False, False, Decimal("0.5")),
        (8192, False, False, Decimal(1)),
        (8193, True, False, Decimal(3)),
        (0, False, False, Decimal("0.5")),
        (4096, True, True, Decimal(2)),
    ],
)
def test_read_units_are_4_kb_halved_when_eventually_consistent(
    size: int, consistent: bool, transactional: bool, units: Decimal
) -> None:
    assert read_units(size, consistent=consistent, transactional=transactional) == units
