"""The meter's hooks (benchmarks/cost/meter.py) count real requests to moto by AWS's rules."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws

from benchmarks.cost.meter import OBSERVER_AGENT, Meter, invoker_of
from benchmarks.cost.tally import API, OTHER, SCHEDULE, SQS

TABLE = "orders"
INDEX = "status-index"


@pytest.fixture
def table() -> Iterator[Any]:
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name="ap-south-1")
        created = dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
            AttributeDefinitions=[
                {"AttributeName": "order_id", "AttributeType": "S"},
                {"AttributeName": "status", "AttributeType": "S"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": INDEX,
                    "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield created


def order(size: int, status: str = "RECEIVED") -> dict[str, Any]:
    """An item of ``size`` bytes: order_id "o1" (10), status (6 + len), pad (3 + the rest)."""
    return {"order_id": "o1", "status": status, "pad": "x" * (size - 10 - 6 - len(status) - 3)}


def test_writes_cost_units_from_the_item_before_and_after(table: Any) -> None:
    with Meter() as meter, meter.recording() as tally:
        table.put_item(Item=order(900))  # new: 1 unit, index 1
        table.update_item(  # 900 -> 1500 bytes, status kept: 2 units, KEYS_ONLY index 0
            Key={"order_id": "o1"}, UpdateExpression="SET #p = :p",
            ExpressionAttributeNames={"#p": "pad"}, ExpressionAttributeValues={":p": "x" * 1467},
        )  # fmt: skip
        with pytest.raises(table.meta.client.exceptions.ConditionalCheckFailedException):
            table.put_item(
                Item=order(300), ConditionExpression="attribute_not_exists(order_id)"
            )  # 1,500 there: 2
        table.update_item(  # status changes: 2 units, index delete + put
            Key={"order_id": "o1"}, UpdateExpression="SET #s = :s", ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": "PENDING"},
        )  # fmt: skip
        table.delete_item(Key={"order_id": "o1"})  # 1,499 bytes: 2 units, index 1
    counts = tally.dynamodb
    assert counts.write_units[(TABLE, "")] == 1 + 2 + 2 + 2 + 2
    assert counts.write_units[(TABLE, INDEX)] == 1 + 2 + 1
    assert counts.write_units_by_key[(TABLE, INDEX, "RECEIVED")] == 2
    assert counts.write_units_by_key[(TABLE, INDEX, "PENDING")] == 2
    assert counts.operations[(TABLE, "put", "condition failed")] == 1
    assert counts.operations[(TABLE, "update", "ok")] == 2


def test_reads_cost_4_kb_units_halved_when_eventually_consistent(table: Any) -> None:
    table.put_item(Item=order(5000, "PENDING"))
    with Meter() as meter, meter.recording() as tally:
        table.get_item(Key={"order_id": "o1"}, ConsistentRead=True)  # 5,000 bytes: 2 units
        table.get_item(Key={"order_id": "o1"})  # 1
        table.query(  # one KEYS_ONLY entry of a few bytes, eventually consistent: 0.5
            IndexName=INDEX, KeyConditionExpression="#s = :s",
            ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":s": "PENDING"},
        )  # fmt: skip
    assert tally.dynamodb.read_units[(TABLE, "")] == 3
    assert tally.dynamodb.read_units[(TABLE, INDEX)] == Decimal("0.5")
    assert tally.dynamodb.read_units_by_key[(TABLE, INDEX, "PENDING")] == Decimal("0.5")


def test_sqs_requests_count_in_64_kb_units_and_empty_receives_apart() -> None:
    with mock_aws(), Meter() as meter:
        sqs = boto3.client("sqs", region_name="ap-south-1")
        url = sqs.create_queue(QueueName="q")["QueueUrl"]
        with meter.recording() as tally:
            sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)
            sqs.send_message(QueueUrl=url, MessageBody="x" * 70_000)  # two 64 KB units
            sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)  # returns it: two units
    assert tally.sqs_requests == {"SendMessage": 2, "ReceiveMessage": 2}
    assert tally.sqs_empty_receives == 1
    assert tally.requests[("sqs", "ReceiveMessage")] == 2


def test_the_tools_own_reads_and_anything_outside_a_recording_are_not_counted(table: Any) -> None:
    observer = boto3.resource(
        "dynamodb", region_name="ap-south-1", config=Config(user_agent_extra=OBSERVER_AGENT)
    )
    with Meter() as meter:
        table.put_item(Item=order(100))
        with meter.recording() as tally:
            observer.Table(TABLE).put_item(Item=order(200))
            observer.Table(TABLE).scan()
    assert tally.dynamodb.write_units == {} and tally.dynamodb.read_units == {}
    assert tally.requests == {}


def test_the_hooks_are_gone_when_the_meter_is_left(table: Any) -> None:
    with Meter() as meter, meter.recording() as tally:
        pass
    table.put_item(Item=order(100))
    assert tally.dynamodb.operations == {}


@pytest.mark.parametrize(
    ("event", "invoker"),
    [
        ({"httpMethod": "POST", "requestContext": {}, "body": "{}"}, API),
        ({"Records": [{"eventSource": "aws:sqs", "body": "{}"}]}, SQS),
        ({"source": "aws.events", "detail-type": "Scheduled Event"}, SCHEDULE),
        ({"order_id": "o1", "request_body": "{}"}, OTHER),
        (None, OTHER),
    ],
)
def test_the_invoker_is_told_from_the_event(event: Any, invoker: str) -> None:
    assert invoker_of(event) == invoker
