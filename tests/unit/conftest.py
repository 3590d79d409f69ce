"""Unit-tier fixtures: moto tables and state machine, handler environment, repositories."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from handlers import fulfill_order
from handlers.models import DUE_AT, IN_FLIGHT_INDEX, IN_FLIGHT_SHARD
from handlers.repository import FailedOrderRepository, OrderRepository
from tests.unit.support import (
    FAILED_ORDERS_TABLE,
    ORDER_QUEUE_NAME,
    ORDERS_TABLE,
    STATE_MACHINE_NAME,
    fixture_text,
)

PASS_DEFINITION = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
STATES_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


@dataclass
class Tables:
    dynamodb: Any
    orders: Any
    failed: Any

    def order_repository(self) -> OrderRepository:
        return OrderRepository(ORDERS_TABLE, self.dynamodb)

    def failed_repository(self) -> FailedOrderRepository:
        return FailedOrderRepository(FAILED_ORDERS_TABLE, self.dynamodb)


@pytest.fixture
def moto_aws() -> Iterator[None]:
    with mock_aws():
        yield


# The orders table's in-flight index, as the stack declares it: what the reconciler queries.
IN_FLIGHT_INDEX_SCHEMA: dict[str, Any] = {
    "IndexName": IN_FLIGHT_INDEX,
    "KeySchema": [
        {"AttributeName": IN_FLIGHT_SHARD, "KeyType": "HASH"},
        {"AttributeName": DUE_AT, "KeyType": "RANGE"},
    ],
    "Projection": {"ProjectionType": "KEYS_ONLY"},
}


@pytest.fixture
def tables(moto_aws: None) -> Tables:
    dynamodb = boto3.resource("dynamodb")
    dynamodb.create_table(
        TableName=ORDERS_TABLE,
        KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "order_id", "AttributeType": "S"},
            {"AttributeName": IN_FLIGHT_SHARD, "AttributeType": "S"},
            {"AttributeName": DUE_AT, "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[IN_FLIGHT_INDEX_SCHEMA],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.create_table(
        TableName=FAILED_ORDERS_TABLE,
        KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "order_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return Tables(dynamodb, dynamodb.Table(ORDERS_TABLE), dynamodb.Table(FAILED_ORDERS_TABLE))


@pytest.fixture
def handler_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment every handler reads, as the stack sets it (the workflow ARN comes separately)."""
    monkeypatch.setenv("ORDERS_TABLE_NAME", ORDERS_TABLE)
    monkeypatch.setenv("FAILED_ORDERS_TABLE_NAME", FAILED_ORDERS_TABLE)
    monkeypatch.setenv("ENVIRONMENT", "test")
    monkeypatch.setenv("FULFILLMENT_SUCCESS_RATE", "0.7")
    monkeypatch.delenv("FULFILLMENT_RANDOM_SEED", raising=False)
    monkeypatch.delenv("MAX_ORDER_BODY_BYTES", raising=False)
    monkeypatch.delenv("STEP_FUNCTION_ARN", raising=False)
    monkeypatch.delenv("ORDER_QUEUE_URL", raising=False)
    monkeypatch.setenv("ORDER_DUE_SECONDS", "900")
    monkeypatch.setenv("RECONCILE_RECEIVED_AFTER_SECONDS", "60")


@pytest.fixture
def handler_tables(tables: Tables, handler_env: None) -> Tables:
    """The tables, with the environment that points the handlers at them."""
    return tables


@pytest.fixture(autouse=True)
def _no_fault_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    """Faults only where a test asks for them; and never the Lambda marker, which refuses a plan."""
    monkeypatch.delenv("DOFS_FAULTS", raising=False)
    monkeypatch.delenv("AWS_EXECUTION_ENV", raising=False)


@pytest.fixture(autouse=True)
def _fresh_fulfillment_rng() -> Iterator[None]:
    """fulfill_order keeps one generator per seed for the process; tests must not share draws."""
    fulfill_order._rng_for_seed.cache_clear()
    yield
    fulfill_order._rng_for_seed.cache_clear()


@pytest.fixture
def state_machine_arn(moto_aws: None, handler_env: None, monkeypatch: pytest.MonkeyPatch) -> str:
    role_arn = boto3.client("iam").create_role(
        RoleName="dofs-states-test", AssumeRolePolicyDocument=json.dumps(STATES_TRUST_POLICY)
    )["Role"]["Arn"]
    arn: str = boto3.client("stepfunctions").create_state_machine(
        name=STATE_MACHINE_NAME, definition=json.dumps(PASS_DEFINITION), roleArn=role_arn
    )["stateMachineArn"]
    monkeypatch.setenv("STEP_FUNCTION_ARN", arn)
    return arn


@pytest.fixture
def order_queue_url(moto_aws: None, handler_env: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """A (moto) order queue, named to the handlers as the stack names it."""
    url: str = boto3.client("sqs").create_queue(QueueName=ORDER_QUEUE_NAME)["QueueUrl"]
    monkeypatch.setenv("ORDER_QUEUE_URL", url)
    return url


@pytest.fixture
def valid_order_text() -> str:
    """The valid fixture order exactly as a client sends it (``0.10`` keeps its trailing zero)."""
    return fixture_text("valid_order.json")
