"""What the emulator mocks create from a resource's Pulumi inputs: tables with their
indexes, schedule rules and their targets."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from handlers.models import DUE_AT, IN_FLIGHT_INDEX, IN_FLIGHT_SHARD
from local.emulator_mocks import CREATORS, EmulatorMocks

REGION = "ap-south-1"
FUNCTION_ARN = "arn:aws:lambda:ap-south-1:123456789012:function:dofs-reconciler-dev"
ORDERS_TABLE_INPUTS = {
    "name": "dofs-orders-dev",
    "billingMode": "PAY_PER_REQUEST",
    "hashKey": "order_id",
    "attributes": [
        {"name": "order_id", "type": "S"},
        {"name": IN_FLIGHT_SHARD, "type": "S"},
        {"name": DUE_AT, "type": "S"},
    ],
    "serverSideEncryption": {"enabled": True},
}


@pytest.fixture
def mocks() -> Iterator[EmulatorMocks]:
    with mock_aws():
        yield EmulatorMocks(None, REGION)


def _create(mocks: EmulatorMocks, typ: str, inputs: dict[str, object]) -> tuple[str, dict[str, object]]:
    return CREATORS[typ](mocks, "resource", inputs)


@pytest.mark.parametrize(
    "index_keys",
    [
        {
            "keySchemas": [
                {"attributeName": IN_FLIGHT_SHARD, "keyType": "HASH"},
                {"attributeName": DUE_AT, "keyType": "RANGE"},
            ]
        },
        {"hashKey": IN_FLIGHT_SHARD, "rangeKey": DUE_AT},
    ],
    ids=["key_schemas", "hash_and_range_key"],
)
def test_a_table_gets_its_sparse_global_secondary_index_and_can_be_queried_by_it(
    mocks: EmulatorMocks, index_keys: dict[str, object]
) -> None:
    index = {"name": IN_FLIGHT_INDEX, "projectionType": "KEYS_ONLY", **index_keys}
    _create(mocks, "aws:dynamodb/table:Table", {**ORDERS_TABLE_INPUTS, "globalSecondaryIndexes": [index]})
    table = boto3.resource("dynamodb", region_name=REGION).Table("dofs-orders-dev")
    for order_id, due_at in [("o-1", "2025-01-01T00:00:02Z"), ("o-late", "2025-01-01T00:09:00Z")]:
        table.put_item(Item={"order_id": order_id, IN_FLIGHT_SHARD: "07", DUE_AT: due_at, "total": 1})
    table.put_item(Item={"order_id": "o-0", IN_FLIGHT_SHARD: "07", DUE_AT: "2025-01-01T00:00:01Z"})
    table.put_item(Item={"order_id": "o-other-shard", IN_FLIGHT_SHARD: "08", DUE_AT: "2025-01-01T00:00:00Z"})
    table.put_item(Item={"order_id": "o-final", "status": "FULFILLED"})  # no keys: not in the index

    (held,) = table.global_secondary_indexes
    found = table.query(
        IndexName=IN_FLIGHT_INDEX,
        KeyConditionExpression="#shard = :shard AND #due <= :now",
        ExpressionAttributeNames={"#shard": IN_FLIGHT_SHARD, "#due": DUE_AT},
        ExpressionAttributeValues={":shard": "07", ":now": "2025-01-01T00:05:00Z"},
    )["Items"]

    assert held["IndexName"] == IN_FLIGHT_INDEX
    assert held["KeySchema"] == [
        {"AttributeName": IN_FLIGHT_SHARD, "KeyType": "HASH"},
        {"AttributeName": DUE_AT, "KeyType": "RANGE"},
    ]
    assert held["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    assert [item["order_id"] for item in found] == ["o-0", "o-1"]  # due first, not yet due left out
    assert "total" not in found[1]  # keys only
    assert table.scan(IndexName=IN_FLIGHT_INDEX)["Count"] == 4  # the final order is not indexed


def test_a_schedule_rule_and_its_plain_target_are_created_as_declared(mocks: EmulatorMocks) -> None:
    rule_id, rule = _create(
        mocks,
        "aws:cloudwatch/eventRule:EventRule",
        {"name": "dofs-order-reconciler-dev", "scheduleExpression": "rate(1 minute)", "description": "d"},
    )
    target_id, _ = _create(
        mocks,
        "aws:cloudwatch/eventTarget:EventTarget",
        {"rule": "dofs-order-reconciler-dev", "arn": FUNCTION_ARN, "targetId": "reconciler"},
    )
    events = boto3.client("events", region_name=REGION)

    held = events.describe_rule(Name="dofs-order-reconciler-dev")
    (target,) = events.list_targets_by_rule(Rule="dofs-order-reconciler-dev")["Targets"]

    assert (rule_id, rule["arn"]) == ("dofs-order-reconciler-dev", held["Arn"])
    assert (held["ScheduleExpression"], held["State"]) == ("rate(1 minute)", "ENABLED")
    assert "EventPattern" not in held
    assert target_id == "dofs-order-reconciler-dev-reconciler"
    assert target == {"Id": "reconciler", "Arn": FUNCTION_ARN}


def test_a_pattern_rule_keeps_its_pattern_and_a_disabled_rule_its_state(mocks: EmulatorMocks) -> None:
    pattern = json.dumps({"source": ["aws.states"]})
    _create(mocks, "aws:cloudwatch/eventRule:EventRule", {"name": "ended", "eventPattern": pattern})
    _create(
        mocks,
        "aws:cloudwatch/eventRule:EventRule",
        {"name": "off", "scheduleExpression": "rate(1 hour)", "isEnabled": False},
    )
    events = boto3.client("events", region_name=REGION)

    ended, off = events.describe_rule(Name="ended"), events.describe_rule(Name="off")

    assert json.loads(ended["EventPattern"]) == {"source": ["aws.states"]}
    assert "ScheduleExpression" not in ended
    assert off["State"] == "DISABLED"
