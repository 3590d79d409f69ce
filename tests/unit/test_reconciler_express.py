"""The reconciler on an EXPRESS workflow, which AWS neither describes nor de-duplicates by name.

The emulator refuses DescribeExecution for EXPRESS as AWS does, so a reconciler that
asked an execution's status would report errors here instead of acting.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from handlers.business_metrics import ReconcilerAction as Action
from handlers.models import OrderStatus
from handlers.order_intake import WorkflowStarter
from handlers.order_queue import OrderQueue
from handlers.reconciler import OrderReconciler, ReconcilerSettings
from handlers.repository import FailedOrderRepository, OrderRepository
from local.express_fidelity import express_workflows_as_on_aws, is_express_execution_arn
from tests.unit.conftest import PASS_DEFINITION, STATES_TRUST_POLICY, Tables
from tests.unit.support import FAILED_ORDERS_TABLE, ORDERS_TABLE, get_item, seed_order

AFTER = 60
CONFIG = ReconcilerSettings(received_after_seconds=AFTER, pending_after_seconds=600, max_attempts=3)


class RecordingStarts:
    """The Step Functions client, keeping the ARN of every execution StartExecution made."""

    def __init__(self) -> None:
        self._client = boto3.client("stepfunctions")
        self.started: list[str] = []

    def start_execution(self, **kwargs: Any) -> Any:
        response = self._client.start_execution(**kwargs)
        self.started.append(response["executionArn"])
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@pytest.fixture
def express_machine(tables: Tables) -> Iterator[str]:
    with express_workflows_as_on_aws():
        role = boto3.client("iam").create_role(
            RoleName="dofs-states-express", AssumeRolePolicyDocument=json.dumps(STATES_TRUST_POLICY)
        )["Role"]["Arn"]
        arn: str = boto3.client("stepfunctions").create_state_machine(
            name="dofs-express", definition=json.dumps(PASS_DEFINITION), roleArn=role, type="EXPRESS"
        )["stateMachineArn"]
        yield arn


def test_a_stuck_received_order_is_started_again_each_time_then_failed_without_describing(
    tables: Tables, express_machine: str
) -> None:
    seed_order(tables.orders, "o-1", OrderStatus.RECEIVED.value)
    sfn = RecordingStarts()
    queue_url = boto3.client("sqs").create_queue(QueueName="dofs-order-queue-test")["QueueUrl"]
    reconciler = OrderReconciler(
        OrderRepository(ORDERS_TABLE, tables.dynamodb),
        FailedOrderRepository(FAILED_ORDERS_TABLE, tables.dynamodb),
        WorkflowStarter(express_machine, sfn),
        OrderQueue(queue_url, boto3.client("sqs")),
        CONFIG,
    )
    now = datetime.now(UTC)

    runs = [reconciler.run(now=now + timedelta(seconds=(AFTER + 1) * n)) for n in range(5)]

    assert runs == [Counter({Action.STARTED: 1})] * 3 + [Counter({Action.FAILED: 1}), Counter()]
    assert len(set(sfn.started)) == 3, "EXPRESS runs the order again on every start"
    assert all(is_express_execution_arn(arn) for arn in sfn.started)
    item = get_item(tables.orders, "o-1")
    assert item is not None
    assert item["status"] == OrderStatus.FULFILLMENT_FAILED.value
    assert get_item(tables.failed, "o-1") is not None
