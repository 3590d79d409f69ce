"""Conditional writes and execution names are atomic on the emulator, as on AWS.

moto evaluates a condition and then writes; the tests widen that gap (a short pause
while the condition is parsed, or while the execution is prepared) so that without the
lock concurrent writers reliably interleave, and with it exactly one wins.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core.config import DefaultConfig
from moto.dynamodb import comparisons
from moto.dynamodb.models import DynamoDBBackend
from moto.stepfunctions.models import StateMachine

from local.emulator_fidelity import atomic_conditional_writes

WRITERS = 16
RACE_WINDOW_SECONDS = 0.02
PASS_DEFINITION = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}


def _then_pause(function: Callable[..., Any]) -> Callable[..., Any]:
    def slow(*args: Any, **kwargs: Any) -> Any:
        result = function(*args, **kwargs)
        time.sleep(RACE_WINDOW_SECONDS)
        return result

    return slow


@pytest.fixture
def wide_race_window() -> Iterator[None]:
    """A pause between moto's check and its write, in both services: after the item is
    read (while the condition is parsed), and after the name is looked for."""
    with (
        mock.patch(  # where moto's Table.put_item looks it up
            "moto.dynamodb.models.table.get_filter_expression", _then_pause(comparisons.get_filter_expression)
        ),
        mock.patch.object(
            StateMachine,
            "_handle_name_input_idempotency",
            _then_pause(StateMachine._handle_name_input_idempotency),
        ),
    ):
        yield


def _all_at_once(action: Callable[[int], bool]) -> list[bool]:
    """Run ``action`` on WRITERS threads released together; True where it succeeded."""
    start = threading.Barrier(WRITERS, timeout=10)

    def released(n: int) -> bool:
        start.wait()
        return action(n)

    with ThreadPoolExecutor(WRITERS) as pool:
        return list(pool.map(released, range(WRITERS)))


def _create_once(dynamodb: Any) -> Callable[[int], bool]:
    def create(n: int) -> bool:
        try:
            dynamodb.put_item(
                TableName="orders",
                Item={"order_id": {"S": "o-1"}, "writer": {"N": str(n)}},
                ConditionExpression="attribute_not_exists(order_id)",
            )
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "ConditionalCheckFailedException"
            return False
        return True

    return create


def _orders_table() -> Any:
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "order_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return dynamodb


@pytest.mark.parametrize("attempt", range(3))
def test_one_of_concurrent_conditional_puts_succeeds(wide_race_window: None, attempt: int) -> None:
    with mock_aws(), atomic_conditional_writes():
        dynamodb = _orders_table()
        succeeded = _all_at_once(_create_once(dynamodb))
        item = dynamodb.get_item(TableName="orders", Key={"order_id": {"S": "o-1"}})["Item"]

    assert succeeded.count(True) == 1
    assert int(item["writer"]["N"]) == succeeded.index(True)  # no loser overwrote the winner


def test_without_the_lock_concurrent_conditional_puts_both_pass(wide_race_window: None) -> None:
    """The race ``atomic_conditional_writes`` closes; if moto ever closes it, this fails."""
    with mock_aws():
        succeeded = _all_at_once(_create_once(_orders_table()))

    assert succeeded.count(True) > 1


def _state_machine() -> tuple[Any, str]:
    sfn = boto3.client("stepfunctions")
    role_arn = boto3.client("iam").create_role(
        RoleName="states", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
    )["Role"]["Arn"]
    arn = sfn.create_state_machine(name="orders", definition=json.dumps(PASS_DEFINITION), roleArn=role_arn)[
        "stateMachineArn"
    ]
    return sfn, arn


def _start_named(sfn: Any, arn: str) -> Callable[[int], bool]:
    def start(n: int) -> bool:
        try:
            sfn.start_execution(stateMachineArn=arn, name="order-1", input=json.dumps({"order_id": "o-1"}))
        except ClientError as exc:  # the first execution has already finished
            assert exc.response["Error"]["Code"] == "ExecutionAlreadyExists"
            return False
        return True

    return start


@pytest.mark.parametrize(
    "config",
    [{"stepfunctions": {"execute_state_machine": True}}, {"stepfunctions": {"execute_state_machine": False}}],
    ids=["interpreter", "no-interpreter"],
)
def test_concurrent_starts_with_one_name_make_one_execution(
    wide_race_window: None, config: DefaultConfig
) -> None:
    with mock_aws(config=config), atomic_conditional_writes():
        sfn, arn = _state_machine()
        succeeded = _all_at_once(_start_named(sfn, arn))
        executions = sfn.list_executions(stateMachineArn=arn)["executions"]

    assert [e["name"] for e in executions] == ["order-1"]
    assert succeeded.count(True) >= 1  # the rest were answered with that same execution, or refused


def test_without_the_lock_concurrent_starts_make_several_executions(wide_race_window: None) -> None:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": False}}):
        sfn, arn = _state_machine()
        _all_at_once(_start_named(sfn, arn))
        executions = sfn.list_executions(stateMachineArn=arn)["executions"]

    assert len(executions) > 1


def test_the_patches_end_with_the_context() -> None:
    before = DynamoDBBackend.put_item
    with atomic_conditional_writes():
        assert DynamoDBBackend.put_item is not before
    assert DynamoDBBackend.put_item is before
