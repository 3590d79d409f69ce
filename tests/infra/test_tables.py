"""The orders table's status index: what the reconciler queries to find stuck orders."""

from __future__ import annotations

from typing import Any

from handlers.models import STATUS_INDEX
from local.recorded_program import ProgramRun, RecordedResource
from tests.infra import helpers as h


def _indexes(table: RecordedResource) -> list[dict[str, Any]]:
    indexes: list[dict[str, Any]] = table.inputs.get("globalSecondaryIndexes") or []
    return indexes


def test_the_orders_table_has_one_index_by_status_then_last_update(stack_run: ProgramRun) -> None:
    (index,) = _indexes(h.orders_table(stack_run))
    assert index == {
        "name": STATUS_INDEX,
        "keySchemas": [
            {"attributeName": "status", "keyType": "HASH"},
            {"attributeName": "updated_at", "keyType": "RANGE"},
        ],
        # Keys only (status, updated_at, order_id): the reconciler re-reads each candidate.
        "projectionType": "KEYS_ONLY",
    }


def test_the_index_takes_no_capacity_on_an_on_demand_table(stack_run: ProgramRun) -> None:
    table = h.orders_table(stack_run)
    assert table.inputs["billingMode"] == "PAY_PER_REQUEST"
    for index in _indexes(table):
        assert not {"readCapacity", "writeCapacity", "onDemandThroughput"} & set(index), index["name"]
        # Neither the deprecated single-key fields nor projected extras.
        assert not {"hashKey", "rangeKey", "nonKeyAttributes"} & set(index), index["name"]


def test_the_orders_table_defines_exactly_the_key_attributes_as_strings(stack_run: ProgramRun) -> None:
    """DynamoDB refuses an attribute definition that no key schema uses, and a key whose
    attribute is undefined; status and updated_at (ISO 8601) are strings."""
    table = h.orders_table(stack_run)
    keys = {table.inputs["hashKey"]} | {
        key["attributeName"] for index in _indexes(table) for key in index["keySchemas"]
    }
    attributes = table.inputs["attributes"]
    assert sorted(a["name"] for a in attributes) == sorted(keys) == ["order_id", "status", "updated_at"]
    assert {a["type"] for a in attributes} == {"S"}


def test_the_failed_orders_table_has_no_index(stack_run: ProgramRun) -> None:
    table = h.failed_orders_table(stack_run)
    assert _indexes(table) == []
    assert table.inputs["attributes"] == [{"name": "order_id", "type": "S"}]


def test_dev_and_prod_index_alike(dev_run: ProgramRun, prod_run: ProgramRun) -> None:
    assert _indexes(h.orders_table(dev_run)) == _indexes(h.orders_table(prod_run))
