"""api_handler λ: the one write that records an order in flight, its deadline, and keyed
retries that start its workflow again only while it is still RECEIVED (on either type)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from handlers import api_handler
from handlers.models import DUE_AT, IN_FLIGHT_SHARD, OrderStatus, in_flight_shard
from handlers.repository import utc_iso
from local.express_fidelity import express_workflows_as_on_aws, is_express_execution_arn
from tests.unit.conftest import PASS_DEFINITION, STATES_TRUST_POLICY, Tables
from tests.unit.support import api_event, get_item, response_json, scan_all

# handler_env's ORDER_DUE_SECONDS and RECONCILE_RECEIVED_AFTER_SECONDS.
ORDER_DUE = timedelta(seconds=900)
RESTART_AFTER = timedelta(seconds=60)
# Everything the API writes for an order (and an Idempotency-Key when one was sent).
API_WRITE = {
    "order_id",
    "status",
    "created_at",
    "updated_at",
    "request_body",
    "request_sha256",
    IN_FLIGHT_SHARD,
    DUE_AT,
}


def post(body: str, key: str | None = None) -> dict[str, Any]:
    headers = {"Idempotency-Key": key} if key is not None else {}
    response = api_handler.handler(api_event("POST", "/order", body, headers), None)
    assert response["statusCode"] == 202, response
    accepted: dict[str, Any] = response_json(response)
    return accepted


def executions(state_machine_arn: str) -> list[str]:
    listed = boto3.client("stepfunctions").list_executions(stateMachineArn=state_machine_arn)
    return [execution["executionArn"] for execution in listed["executions"]]


@pytest.fixture
def express_machine_arn(tables: Tables, handler_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An EXPRESS state machine, served as AWS serves one (names not de-duplicated)."""
    with express_workflows_as_on_aws():
        role_arn = boto3.client("iam").create_role(
            RoleName="dofs-states-express-test", AssumeRolePolicyDocument=json.dumps(STATES_TRUST_POLICY)
        )["Role"]["Arn"]
        arn: str = boto3.client("stepfunctions").create_state_machine(
            name="dofs-order-processing-express-test",
            definition=json.dumps(PASS_DEFINITION),
            roleArn=role_arn,
            type="EXPRESS",
        )["stateMachineArn"]
        monkeypatch.setenv("STEP_FUNCTION_ARN", arn)
        yield arn


def test_an_order_is_recorded_in_one_write_in_flight_and_due_after_its_whole_trip(
    tables: Tables, state_machine_arn: str, valid_order_text: str
) -> None:
    started = datetime.now(UTC)
    accepted = post(valid_order_text, key="lean-1")
    finished = datetime.now(UTC)

    item = get_item(tables.orders, accepted["order_id"])
    assert item is not None
    assert set(item) == API_WRITE | {"idempotency_key"}
    assert item[IN_FLIGHT_SHARD] == in_flight_shard(accepted["order_id"])
    assert utc_iso(started + ORDER_DUE) <= item[DUE_AT] <= utc_iso(finished + ORDER_DUE)
    view = response_json(api_handler.handler(api_event("GET", f"/orders/{accepted['order_id']}"), None))
    assert not {IN_FLIGHT_SHARD, DUE_AT, "request_body", "execution_arn"} & set(view)


def test_an_order_stepfunctions_refused_is_due_after_the_restart_deadline(
    tables: Tables, state_machine_arn: str, valid_order_text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STEP_FUNCTION_ARN", state_machine_arn.rsplit(":", 1)[0] + ":dofs-no-such-machine")

    started = datetime.now(UTC)
    accepted = post(valid_order_text)
    finished = datetime.now(UTC)

    assert accepted["execution_arn"] is None
    item = get_item(tables.orders, accepted["order_id"])
    assert item is not None
    assert item["status"] == "RECEIVED"
    assert utc_iso(started + RESTART_AFTER) <= item[DUE_AT] <= utc_iso(finished + RESTART_AFTER)


def test_a_keyed_retry_of_an_order_still_received_runs_an_express_workflow_again(
    tables: Tables, express_machine_arn: str, valid_order_text: str
) -> None:
    first = post(valid_order_text, key="express-retry")
    recorded = get_item(tables.orders, first["order_id"])

    second = post(valid_order_text, key="express-retry")

    assert second["order_id"] == first["order_id"]
    assert second["status"] == "RECEIVED"
    # Two executions of one order, each with its own EXPRESS ARN; one order, unchanged.
    assert first["execution_arn"] != second["execution_arn"]
    assert all(is_express_execution_arn(answer["execution_arn"]) for answer in (first, second))
    assert scan_all(tables.orders) == [recorded]


@pytest.mark.parametrize(
    "status",
    [
        OrderStatus.PENDING_FULFILLMENT,
        OrderStatus.FULFILLED,
        OrderStatus.REJECTED,
        OrderStatus.FULFILLMENT_FAILED,
    ],
)
def test_a_keyed_retry_of_an_order_past_received_starts_nothing(
    tables: Tables,
    state_machine_arn: str,
    valid_order_text: str,
    monkeypatch: pytest.MonkeyPatch,
    status: OrderStatus,
) -> None:
    # Recorded while Step Functions refused it, so no execution of that name exists yet.
    monkeypatch.setenv("STEP_FUNCTION_ARN", state_machine_arn.rsplit(":", 1)[0] + ":dofs-no-such-machine")
    first = post(valid_order_text, key="moved-on")
    tables.orders.update_item(
        Key={"order_id": first["order_id"]},
        UpdateExpression="SET #status = :status",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":status": status.value},
    )
    monkeypatch.setenv("STEP_FUNCTION_ARN", state_machine_arn)

    retried = post(valid_order_text, key="moved-on")

    assert retried["order_id"] == first["order_id"]
    assert retried["status"] == status.value
    assert retried["execution_arn"] is None
    assert executions(state_machine_arn) == []
