"""The orders table's in-flight index: what the reconciler queries to find orders that are due."""

from __future__ import annotations

from typing import Any

from handlers.models import DUE_AT, IN_FLIGHT_INDEX, IN_FLIGHT_SHARD
from local.recorded_program import ProgramRun, RecordedResource
from tests.infra import helpers as h


def _indexes(table: RecordedResource) -> list[dict[str, Any]]:
    indexes: list[dict[str, Any]] = table.inputs.get("globalSecondaryIndexes") or []
    return indexes


def test_the_orders_table_has_one_index_of_orders_in_flight_by_due_time(stack_run: ProgramRun) -> None:
    (index,) = _indexes(h.orders_table(stack_run))
    assert index == {
        "name": IN_FLIGHT_INDEX,
        "keySchemas": [
            {"attributeName": IN_FLIGHT_SHARD, "keyType": "HASH"},
            {"attributeName": DUE_AT, "keyType": "RANGE"},
        ],
        # Keys only (in_flight, due_at, order_id): the reconciler re-reads each candidate.
        "projectionType": "KEYS_ONLY",
    }
    assert (IN_FLIGHT_INDEX, IN_FLIGHT_SHARD, DUE_AT) == ("in_flight-due_at-index", "in_flight", "due_at")


def test_the_index_is_keyed_neither_by_status_nor_by_last_update(stack_run: ProgramRun) -> None:
    """Keys that change on every status change would write the index on every step; the
    in-flight keys change only when an order enters or leaves flight."""
    keys = {
        key["attributeName"] for index in _indexes(h.orders_table(stack_run)) for key in index["keySchemas"]
    }
    assert keys.isdisjoint({"status", "updated_at"})


def test_the_index_takes_no_capacity_on_an_on_demand_table(stack_run: ProgramRun) -> None:
    table = h.orders_table(stack_run)
    assert table.inputs["billingMode"] == "PAY_PER_REQUEST"
    for index in _indexes(table):
        assert not {"readCapacity", "writeCapacity", "onDemandThroughput"} & set(index), index["name"]
        # Neither the deprecated single-key fields nor projected extras.
        assert not {"hashKey", "rangeKey", "nonKeyAttributes"} & set(index), index["name"]


def test_the_orders_table_defines_exactly_the_key_attributes_as_strings(stack_run: ProgramRun) -> None:
    """DynamoDB refuses an attribute definition that no key schema uses, and a key whose
    attribute is undefined; the shard ("00".."15") and due_at (ISO 8601) are strings."""
    table = h.orders_table(stack_run)
    keys = {table.inputs["hashKey"]} | {
        key["attributeName"] for index in _indexes(table) for key in index["keySchemas"]
    }
    attributes = table.inputs["attributes"]
    assert sorted(a["name"] for a in attributes) == sorted(keys) == [DUE_AT, IN_FLIGHT_SHARD, "order_id"]
    assert {a["type"] for a in attributes} == {"S"}


def test_the_failed_orders_table_has_no_index(stack_run: ProgramRun) -> None:
    table = h.failed_orders_table(stack_run)
    assert _indexes(table) == []
    assert table.inputs["attributes"] == [{"name": "order_id", "type": "S"}]


def test_dev_and_prod_index_alike(dev_run: ProgramRun, prod_run: ProgramRun) -> None:
    assert _indexes(h.orders_table(dev_run)) == _indexes(h.orders_table(prod_run))
