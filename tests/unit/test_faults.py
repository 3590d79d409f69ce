"""Fault injection (DOFS_FAULTS): the plan, the fault points in every handler, the botocore hooks, and
the refusal on AWS Lambda. Each test sets the plan with monkeypatch and rebuilds the shared clients."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from handlers import (
    api_handler,
    aws,
    dlq_processor,
    faults,
    fulfill_order,
    order_storage,
    reconciler,
    validator,
)
from handlers.business_metrics import ReconcilerAction as Action
from handlers.errors import ConfigurationError, TransientStorageError, WorkflowStartError
from handlers.faults import FaultInjector, FaultPlan, FaultPoint, InjectedCrashError
from handlers.models import OrderStatus
from handlers.order_intake import WorkflowStarter
from handlers.order_queue import OrderQueue
from handlers.reconciler import OrderReconciler, ReconcilerSettings
from tests.unit.conftest import Tables
from tests.unit.support import (
    api_event,
    fixture_text,
    get_item,
    order_message,
    response_json,
    scan_all,
    seed_order,
    sqs_event,
    sqs_record,
)

PENDING = OrderStatus.PENDING_FULFILLMENT.value
RECONCILE_VARIABLES = {
    "RECONCILE_RECEIVED_AFTER_SECONDS": "60",
    "RECONCILE_PENDING_AFTER_SECONDS": "600",
    "RECONCILE_MAX_ATTEMPTS": "3",
}


def use_plan(
    monkeypatch: pytest.MonkeyPatch, rates: dict[str, float] | None, seed: int | None = None
) -> None:
    """Set (or, with None, remove) the fault plan and forget the clients, so the next ones see it."""
    if rates is None:
        monkeypatch.delenv(faults.DOFS_FAULTS, raising=False)
    else:
        monkeypatch.setenv(faults.DOFS_FAULTS, json.dumps({"seed": seed, "rates": rates}))
    aws.reset_clients()


def executions(state_machine_arn: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = boto3.client("stepfunctions").list_executions(
        stateMachineArn=state_machine_arn
    )["executions"]
    return found


def post_order(body: str | None = None) -> dict[str, Any]:
    return api_handler.handler(api_event("POST", "/order", body or fixture_text("valid_order.json")), None)


@pytest.fixture
def stack(
    handler_tables: Tables, state_machine_arn: str, order_queue_url: str, monkeypatch: pytest.MonkeyPatch
) -> Tables:
    """Tables, workflow, order queue and every handler's environment, the reconciler's included."""
    for name, value in RECONCILE_VARIABLES.items():
        monkeypatch.setenv(name, value)
    return handler_tables


# --- the plan ---------------------------------------------------------------------------------


def test_a_plan_names_its_points_rates_and_seed() -> None:
    plan = FaultPlan.parse('{"seed": 7, "rates": {"validator": 0.1, "dynamodb_throttle": 1}}')

    assert plan.seed == 7
    assert plan.rate(FaultPoint.VALIDATOR) == 0.1
    assert plan.rate(FaultPoint.DYNAMODB_THROTTLE) == 1.0
    assert plan.rate(FaultPoint.FULFILL_ORDER) == 0.0


@pytest.mark.parametrize(
    "raw",
    [
        "{",
        "[]",
        '"validator"',
        '{"rates": {"no_such_point": 0.5}}',
        '{"rates": {"validator": "often"}}',
        '{"rates": {"validator": 1.5}}',
        '{"rates": {"validator": -0.1}}',
        '{"rates": [["validator", 1]]}',
        '{"seed": "seven"}',
        '{"rate": {"validator": 1}}',
    ],
    ids=[
        "not JSON",
        "a list",
        "a string",
        "unknown point",
        "rate not a number",
        "rate over 1",
        "rate under 0",
        "rates not an object",
        "seed not an integer",
        "unknown field",
    ],
)
def test_a_bad_plan_is_a_configuration_error_naming_the_variable(
    raw: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigurationError, match=faults.DOFS_FAULTS):
        FaultPlan.parse(raw)

    monkeypatch.setenv(faults.DOFS_FAULTS, raw)
    with pytest.raises(ConfigurationError, match=faults.DOFS_FAULTS):
        validator.handler({"order_id": "o-1", "request_body": fixture_text("valid_order.json")}, None)


def test_an_out_of_range_rate_names_its_point() -> None:
    with pytest.raises(ConfigurationError, match="crash_before_ack"):
        FaultPlan.parse('{"rates": {"validator": 0.5, "crash_before_ack": 2}}')


@pytest.mark.parametrize("raw", [None, "", "   "], ids=["unset", "empty", "blank"])
def test_without_a_plan_there_is_no_injector_and_nothing_fires(
    monkeypatch: pytest.MonkeyPatch, raw: str | None
) -> None:
    if raw is not None:
        monkeypatch.setenv(faults.DOFS_FAULTS, raw)

    assert faults.active_injector() is None
    assert not any(faults.fires(point) for point in FaultPoint)


@pytest.mark.parametrize("seed", [None, 1, 99])
def test_rate_zero_never_fires_and_rate_one_always_fires(seed: int | None) -> None:
    injector = FaultInjector(
        FaultPlan(seed=seed, rates={FaultPoint.VALIDATOR: 1.0, FaultPoint.RECONCILER: 0.0})
    )

    assert all(injector.fires(FaultPoint.VALIDATOR) for _ in range(2_000))
    assert not any(injector.fires(FaultPoint.RECONCILER) for _ in range(2_000))
    assert not any(injector.fires(FaultPoint.ORDER_STORAGE) for _ in range(2_000)), "unlisted: rate 0"


def test_the_seed_makes_the_draws_reproducible() -> None:
    def draws(seed: int) -> list[bool]:
        injector = FaultInjector(FaultPlan(seed=seed, rates={FaultPoint.VALIDATOR: 0.5}))
        return [injector.fires(FaultPoint.VALIDATOR) for _ in range(200)]

    assert draws(42) == draws(42)
    assert draws(42) != draws(43)
    assert 60 < sum(draws(42)) < 140, "about half of 200 draws at rate 0.5"


def test_the_injectors_fire_as_the_environment_says(monkeypatch: pytest.MonkeyPatch) -> None:
    use_plan(monkeypatch, {"validator": 1})
    assert faults.fires(FaultPoint.VALIDATOR) is True
    with pytest.raises(TransientStorageError, match="validator"):
        faults.inject_transient(FaultPoint.VALIDATOR)
    faults.inject_transient(FaultPoint.ORDER_STORAGE)  # rate 0: nothing happens

    use_plan(monkeypatch, {"crash_before_ack": 1})
    with pytest.raises(InjectedCrashError, match="crash_before_ack"):
        faults.inject_crash(FaultPoint.CRASH_BEFORE_ACK)
    faults.inject_transient(FaultPoint.VALIDATOR)


# --- a transient error as each step starts ------------------------------------------------------


def _storage_event() -> dict[str, Any]:
    outcome = validator.validate_order("o-1", fixture_text("valid_order.json"))
    assert outcome.order is not None
    return {"operation": "store_validated", "order_id": "o-1", "order": outcome.order.as_json_data()}


STEPS: dict[str, Callable[[], Any]] = {
    "validator": lambda: validator.handler(
        {"order_id": "o-1", "request_body": fixture_text("valid_order.json")}, None
    ),
    "order_storage": lambda: order_storage.handler(_storage_event(), None),
    "fulfill_order": lambda: fulfill_order.handler(sqs_event(sqs_record("m-1", order_message("o-1"))), None),
    "dlq_processor": lambda: dlq_processor.handler(sqs_event(sqs_record("m-1", order_message("o-1"))), None),
    "reconciler": lambda: reconciler.handler({}, None),
}
SEEDED_STATUS = {
    "validator": "RECEIVED",
    "order_storage": "RECEIVED",
    "fulfill_order": PENDING,
    "dlq_processor": PENDING,
    "reconciler": PENDING,
}


@pytest.mark.parametrize("point", sorted(STEPS))
def test_each_step_raises_a_transient_error_at_rate_one_and_changes_nothing(
    stack: Tables, monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    monkeypatch.setenv("FULFILLMENT_SUCCESS_RATE", "1")
    seeded = seed_order(stack.orders, "o-1", SEEDED_STATUS[point])
    use_plan(monkeypatch, {point: 1})

    with pytest.raises(TransientStorageError, match=f"injected fault at {point}"):
        STEPS[point]()

    assert get_item(stack.orders, "o-1") == seeded
    assert scan_all(stack.failed) == []


STATUS_AFTER = {
    "validator": "RECEIVED",  # the validator writes nothing
    "order_storage": PENDING,  # stored, in the same write
    "fulfill_order": "FULFILLED",
    "dlq_processor": "FULFILLMENT_FAILED",
    "reconciler": PENDING,  # enqueued again
}


@pytest.mark.parametrize("point", sorted(STEPS))
def test_a_fault_at_every_other_step_leaves_this_one_working(
    stack: Tables, monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    monkeypatch.setenv("FULFILLMENT_SUCCESS_RATE", "1")
    seed_order(stack.orders, "o-1", SEEDED_STATUS[point])
    use_plan(monkeypatch, {other: 1 for other in STEPS if other != point})

    STEPS[point]()

    item = get_item(stack.orders, "o-1")
    assert item is not None
    assert item["status"] == STATUS_AFTER[point]
    if point == "reconciler":
        assert item["reconcile_attempts"] == 1


def test_the_api_answers_503_at_rate_one_and_stores_nothing(
    stack: Tables, state_machine_arn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_plan(monkeypatch, {"api_handler": 1})

    response = post_order()

    assert response["statusCode"] == 503
    assert response_json(response)["error"] == "storage_unavailable"
    assert response["headers"]["Retry-After"]
    assert scan_all(stack.orders) == []
    assert executions(state_machine_arn) == []


def test_the_api_still_refuses_bad_input_before_its_fault_point(
    stack: Tables, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_plan(monkeypatch, {"api_handler": 1})

    response = post_order(fixture_text("invalid_order_missing_customer.json"))

    assert response["statusCode"] == 422


# --- DynamoDB throttled, through the botocore hook ----------------------------------------------


def test_a_throttled_table_makes_the_api_answer_503_and_store_nothing(
    stack: Tables, state_machine_arn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_plan(monkeypatch, {"dynamodb_throttle": 1})

    posted = post_order()
    looked_up = api_handler.handler(api_event("GET", "/orders/abc-1", None, content_type=None), None)

    for response in (posted, looked_up):
        assert response["statusCode"] == 503
        assert response_json(response)["error"] == "storage_unavailable"
    assert scan_all(stack.orders) == [], "read through a client built before the plan"
    assert executions(state_machine_arn) == []


def test_a_throttled_table_makes_order_storage_raise_a_transient_error(
    stack: Tables, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded = seed_order(stack.orders, "o-1", "RECEIVED")
    use_plan(monkeypatch, {"dynamodb_throttle": 1})

    with pytest.raises(TransientStorageError) as raised:
        order_storage.handler(_storage_event(), None)

    cause = raised.value.__cause__
    assert isinstance(cause, ClientError)
    assert cause.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert "dynamodb_throttle" in cause.response["Error"]["Message"]
    assert get_item(stack.orders, "o-1") == seeded


def test_a_throttled_table_returns_the_fulfillment_message_to_the_queue(
    stack: Tables, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FULFILLMENT_SUCCESS_RATE", "1")
    seeded = seed_order(stack.orders, "o-1", PENDING)
    use_plan(monkeypatch, {"dynamodb_throttle": 1})

    response = fulfill_order.handler(sqs_event(sqs_record("m-1", order_message("o-1"))), None)

    assert response == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert get_item(stack.orders, "o-1") == seeded


# --- StartExecution refused, through the botocore hook --------------------------------------------


def test_a_refused_start_is_a_202_received_without_an_execution_and_the_reconciler_starts_it(
    stack: Tables, state_machine_arn: str, order_queue_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_plan(monkeypatch, {"workflow_start": 1})

    response = post_order()

    assert response["statusCode"] == 202
    body = response_json(response)
    assert body["status"] == "RECEIVED"
    assert body["execution_arn"] is None
    item = get_item(stack.orders, body["order_id"])
    assert item is not None
    assert "execution_arn" not in item
    assert executions(state_machine_arn) == []

    use_plan(monkeypatch, None)
    run = OrderReconciler(
        stack.order_repository(),
        stack.failed_repository(),
        WorkflowStarter(state_machine_arn, aws.stepfunctions_client()),
        OrderQueue(order_queue_url, aws.sqs_client()),
        ReconcilerSettings.from_environment(),
    ).run(now=datetime.now(UTC) + timedelta(seconds=61))

    assert run[Action.STARTED] == 1
    (execution,) = executions(state_machine_arn)
    assert execution["name"] == body["order_id"]


def test_a_refused_start_only_refuses_start_execution(
    stack: Tables, state_machine_arn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_plan(monkeypatch, {"workflow_start": 1})
    client = aws.stepfunctions_client()

    with pytest.raises(WorkflowStartError, match="ServiceUnavailable"):
        WorkflowStarter(state_machine_arn, client).start("o-1", "{}")
    assert (
        client.describe_state_machine(stateMachineArn=state_machine_arn)["stateMachineArn"]
        == state_machine_arn
    )
    assert client.list_executions(stateMachineArn=state_machine_arn)["executions"] == []


# --- a crash after the writes, before the poller hears back ---------------------------------------


def test_a_crash_before_ack_comes_after_the_order_is_fulfilled_and_a_redelivery_does_not_fulfil_again(
    stack: Tables, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FULFILLMENT_SUCCESS_RATE", "1")
    seed_order(stack.orders, "o-1", PENDING)
    event = sqs_event(sqs_record("m-1", order_message("o-1")))
    use_plan(monkeypatch, {"crash_before_ack": 1})

    with pytest.raises(InjectedCrashError):
        fulfill_order.handler(event, None)

    crashed = get_item(stack.orders, "o-1")
    assert crashed is not None
    assert crashed["status"] == "FULFILLED"
    assert crashed["fulfillment_attempts"] == 1

    use_plan(monkeypatch, None)
    redelivered = sqs_event(sqs_record("m-1", order_message("o-1"), receive_count=2))

    assert fulfill_order.handler(redelivered, None) == {"batchItemFailures": []}
    assert get_item(stack.orders, "o-1") == crashed, "fulfillment_attempts stays 1"


def test_a_crash_before_ack_in_the_dlq_processor_leaves_one_record_after_redelivery(
    stack: Tables, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_order(stack.orders, "o-1", PENDING, fulfillment_attempts=3)
    event = sqs_event(sqs_record("m-1", order_message("o-1"), receive_count=3))
    use_plan(monkeypatch, {"crash_before_ack": 1})

    with pytest.raises(InjectedCrashError):
        dlq_processor.handler(event, None)

    crashed = get_item(stack.orders, "o-1")
    assert crashed is not None
    assert crashed["status"] == "FULFILLMENT_FAILED"
    use_plan(monkeypatch, None)

    assert dlq_processor.handler(event, None) == {"batchItemFailures": []}
    assert get_item(stack.orders, "o-1") == crashed
    assert [record["order_id"] for record in scan_all(stack.failed)] == ["o-1"]


# --- refused on AWS Lambda; no plan, no hooks ------------------------------------------------------


def test_a_plan_on_aws_lambda_is_refused_by_every_step(
    stack: Tables, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded = seed_order(stack.orders, "o-1", PENDING)
    monkeypatch.setenv("AWS_EXECUTION_ENV", "AWS_Lambda_python3.11")
    use_plan(monkeypatch, {})  # even a plan that injects nothing

    for name, step in STEPS.items():
        with pytest.raises(ConfigurationError, match="AWS Lambda") as raised:
            step()
        assert faults.DOFS_FAULTS in str(raised.value), name
    with pytest.raises(ConfigurationError, match=faults.DOFS_FAULTS):
        aws.dynamodb_resource()
    assert get_item(stack.orders, "o-1") == seeded


def test_the_api_on_aws_lambda_with_a_plan_is_a_500_and_stores_nothing(
    stack: Tables, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_EXECUTION_ENV", "AWS_Lambda_python3.11")
    use_plan(monkeypatch, {"validator": 0.5})

    response = post_order()

    assert response["statusCode"] == 500
    assert response_json(response)["error"] == "internal_error"
    assert scan_all(stack.orders) == []


def test_aws_lambda_without_a_plan_runs_normally(stack: Tables, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_EXECUTION_ENV", "AWS_Lambda_python3.11")
    use_plan(monkeypatch, None)

    assert post_order()["statusCode"] == 202
    assert len(scan_all(stack.orders)) == 1


def test_a_client_built_without_a_plan_has_no_hooks(stack: Tables, monkeypatch: pytest.MonkeyPatch) -> None:
    use_plan(monkeypatch, None)
    unhooked = aws.dynamodb_resource()
    assert aws.instrument(unhooked.meta.client) is unhooked.meta.client

    # A plan that appears later cannot reach a client built without one...
    monkeypatch.setenv(faults.DOFS_FAULTS, json.dumps({"rates": {"dynamodb_throttle": 1}}))
    unhooked.Table(stack.orders.name).put_item(Item={"order_id": "o-1", "status": "RECEIVED"})
    assert get_item(stack.orders, "o-1") is not None

    # ...while one built under the plan is throttled.
    aws.reset_clients()
    with pytest.raises(ClientError, match="ProvisionedThroughputExceededException"):
        aws.dynamodb_resource().Table(stack.orders.name).get_item(Key={"order_id": "o-1"})
