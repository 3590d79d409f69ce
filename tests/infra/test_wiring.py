"""Each function is told the right table, queue and state machine; the stack exports its endpoints."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from components.config import parse_settings
from handlers import settings as env
from local.pulumi_runner import stack_config
from local.recorded_program import ProgramRun, record_program
from tests.infra import helpers as h


def _variables(run: ProgramRun, component: str) -> dict[str, Any]:
    variables: dict[str, Any] = h.function(run, component).inputs["environment"]["variables"]
    return variables


def test_api_handler_gets_the_orders_table_and_the_state_machine(stack_run: ProgramRun) -> None:
    variables = _variables(stack_run, h.API_HANDLER)
    assert variables[env.ORDERS_TABLE_NAME] == h.orders_table(stack_run).inputs["name"]
    assert variables[env.STEP_FUNCTION_ARN] == h.state_machine(stack_run).outputs["arn"]
    assert env.FAILED_ORDERS_TABLE_NAME not in variables


def test_api_handler_body_limit_comes_from_config(stack_run: ProgramRun, config: h.StackConfig) -> None:
    variables = _variables(stack_run, h.API_HANDLER)
    assert int(variables[env.MAX_ORDER_BODY_BYTES]) == config.integer("dofs:maxOrderBodyBytes")
    assert env.optional_int(env.MAX_ORDER_BODY_BYTES, None, variables) == config.integer(
        "dofs:maxOrderBodyBytes"
    )


def test_api_handler_gets_a_new_orders_deadline_past_its_workflow_and_its_fulfillment(
    stack_run: ProgramRun,
) -> None:
    """A new order is due (read by the reconciler) only once its execution has surely ended
    and SQS and the DLQ are done with it: an order that is fine is final by then."""
    variables = _variables(stack_run, h.API_HANDLER)
    due = env.seconds(env.ORDER_DUE_SECONDS, variables).total_seconds()
    workflow_timeout = stack_run.state_machine_definition()["TimeoutSeconds"]
    pending = env.optional_int(env.RECONCILE_PENDING_AFTER_SECONDS, None, _variables(stack_run, h.RECONCILER))
    assert pending is not None
    assert due == workflow_timeout + pending
    assert due > workflow_timeout + _sqs_gives_up_after_seconds(stack_run)


def test_api_handler_restarts_a_refused_order_after_reconcile_after_seconds(
    stack_run: ProgramRun, config: h.StackConfig
) -> None:
    variables = _variables(stack_run, h.API_HANDLER)
    restart = env.seconds(env.RECONCILE_RECEIVED_AFTER_SECONDS, variables).total_seconds()
    assert restart == config.integer("dofs:reconcileAfterSeconds")
    assert restart < env.seconds(env.ORDER_DUE_SECONDS, variables).total_seconds()


def test_api_handler_deadlines_follow_overrides() -> None:
    overrides = {
        "dofs:workflowTimeoutSeconds": "60",
        "dofs:reconcileAfterSeconds": "30",
        "dofs:maxReceiveCount": "2",
        "dofs:fulfillTimeoutSeconds": "10",
    }
    variables = _variables(record_program("dev", overrides), h.API_HANDLER)
    # 60 s of workflow + 30 + 2 deliveries x 6 x 10 s + the DLQ's 6 x 10 s.
    assert variables[env.ORDER_DUE_SECONDS] == str(60 + 30 + 2 * 60 + 60)
    assert variables[env.RECONCILE_RECEIVED_AFTER_SECONDS] == "30"


def test_validator_is_told_nothing_but_its_environment(stack_run: ProgramRun) -> None:
    assert _variables(stack_run, h.VALIDATOR) == {env.ENVIRONMENT: stack_run.stack, "LOG_LEVEL": "INFO"}


def test_every_function_logs_at_the_configured_level() -> None:
    run = record_program("dev", {"dofs:logLevel": "WARNING"})
    for component in h.FUNCTIONS:
        assert _variables(run, component)["LOG_LEVEL"] == "WARNING", component


@pytest.mark.parametrize("component", [h.ORDER_STORAGE, h.DLQ_PROCESSOR])
def test_recorders_of_failures_get_both_tables_and_nothing_else(
    stack_run: ProgramRun, component: str
) -> None:
    # order_storage keeps the deadline the API set: storing an order writes no index key.
    assert _variables(stack_run, component) == {
        env.ENVIRONMENT: stack_run.stack,
        env.LOG_LEVEL: "INFO",
        env.ORDERS_TABLE_NAME: h.orders_table(stack_run).inputs["name"],
        env.FAILED_ORDERS_TABLE_NAME: h.failed_orders_table(stack_run).inputs["name"],
    }


def test_fulfill_order_gets_the_orders_table_and_the_success_rate(
    stack_run: ProgramRun, config: h.StackConfig
) -> None:
    variables = _variables(stack_run, h.FULFILL_ORDER)
    assert variables[env.ORDERS_TABLE_NAME] == h.orders_table(stack_run).inputs["name"]
    assert env.FAILED_ORDERS_TABLE_NAME not in variables
    expected = config.decimal("dofs:fulfillmentSuccessRate")
    assert Decimal(variables[env.FULFILLMENT_SUCCESS_RATE]) == expected
    # The handler accepts the value the program writes.
    assert env.success_rate(variables) == expected


def test_success_rate_override_reaches_fulfill_order() -> None:
    run = record_program("dev", {"dofs:fulfillmentSuccessRate": "0.25"})
    variables = _variables(run, h.FULFILL_ORDER)
    assert env.success_rate(variables) == Decimal("0.25")


def test_reconciler_gets_both_tables_the_state_machine_the_queue_and_its_thresholds(
    stack_run: ProgramRun,
) -> None:
    settings = parse_settings({**stack_config(stack_run.stack), **stack_run.overrides}, stack_run.stack)
    assert _variables(stack_run, h.RECONCILER) == {
        env.ENVIRONMENT: stack_run.stack,
        env.LOG_LEVEL: settings.log_level,
        env.ORDERS_TABLE_NAME: h.orders_table(stack_run).inputs["name"],
        env.FAILED_ORDERS_TABLE_NAME: h.failed_orders_table(stack_run).inputs["name"],
        env.STEP_FUNCTION_ARN: h.state_machine(stack_run).outputs["arn"],
        env.ORDER_QUEUE_URL: h.order_queue(stack_run).outputs["url"],
        env.RECONCILE_RECEIVED_AFTER_SECONDS: str(settings.received_stuck_after_seconds()),
        env.RECONCILE_PENDING_AFTER_SECONDS: str(settings.pending_stuck_after_seconds()),
        env.RECONCILE_MAX_ATTEMPTS: str(settings.reconcile_max_attempts),
    }


def test_reconciler_thresholds_come_from_config(stack_run: ProgramRun, config: h.StackConfig) -> None:
    variables = _variables(stack_run, h.RECONCILER)
    # The handler reads them as integers.
    assert env.optional_int(env.RECONCILE_RECEIVED_AFTER_SECONDS, None, variables) == config.integer(
        "dofs:reconcileAfterSeconds"
    )
    assert env.optional_int(env.RECONCILE_MAX_ATTEMPTS, None, variables) == config.integer(
        "dofs:reconcileMaxAttempts"
    )


def _sqs_gives_up_after_seconds(run: ProgramRun) -> int:
    """From the recorded queues: every delivery of a message, then its DLQ processing."""
    queue = h.order_queue(run)
    receives: int = json.loads(queue.inputs["redrivePolicy"])["maxReceiveCount"]
    order_visibility: int = queue.inputs["visibilityTimeoutSeconds"]
    dlq_visibility: int = h.dead_letter_queue(run).inputs["visibilityTimeoutSeconds"]
    return receives * order_visibility + dlq_visibility


def test_a_pending_order_is_stuck_only_after_sqs_and_the_dlq_are_done_with_it(
    stack_run: ProgramRun, config: h.StackConfig
) -> None:
    """Re-enqueueing an order SQS still redelivers, or dlq_processor still records, would double it."""
    pending = env.optional_int(env.RECONCILE_PENDING_AFTER_SECONDS, None, _variables(stack_run, h.RECONCILER))
    assert pending is not None
    queue = h.order_queue(stack_run)
    receives = json.loads(queue.inputs["redrivePolicy"])["maxReceiveCount"]
    assert pending > receives * queue.inputs["visibilityTimeoutSeconds"]
    assert pending == config.integer("dofs:reconcileAfterSeconds") + _sqs_gives_up_after_seconds(stack_run)


def test_reconciler_thresholds_follow_overrides() -> None:
    overrides = {
        "dofs:reconcileAfterSeconds": "300",
        "dofs:reconcileMaxAttempts": "7",
        "dofs:maxReceiveCount": "4",
        "dofs:fulfillTimeoutSeconds": "20",
    }
    run = record_program("dev", overrides)
    variables = _variables(run, h.RECONCILER)
    assert variables[env.RECONCILE_RECEIVED_AFTER_SECONDS] == "300"
    assert variables[env.RECONCILE_MAX_ATTEMPTS] == "7"
    # 300 + 4 deliveries x 6 x 20 s + the DLQ's 6 x 10 s.
    assert variables[env.RECONCILE_PENDING_AFTER_SECONDS] == str(300 + 4 * 120 + 60)
    assert int(variables[env.RECONCILE_PENDING_AFTER_SECONDS]) == 300 + _sqs_gives_up_after_seconds(run)


@pytest.mark.parametrize("component", h.FUNCTIONS)
def test_every_variable_a_handler_requires_is_non_empty(stack_run: ProgramRun, component: str) -> None:
    variables = _variables(stack_run, component)
    for name, value in variables.items():
        assert isinstance(value, str), name
        assert env.require(name, variables) == value.strip()


def test_outputs_are_the_six_endpoints_alerts_dashboard_and_api_access(stack_run: ProgramRun) -> None:
    # What a client needs to get in: the keys (api_key), the ARN to grant Invoke on (iam).
    access = {"none": set(), "api_key": {"api_keys"}, "iam": {"api_execute_arn"}}
    auth = h.StackConfig(stack_run.stack).raw("dofs:apiAuth")
    assert set(stack_run.outputs) - access[auth] == {
        "api_url",
        "orders_table_name",
        "failed_orders_table_name",
        "order_queue_url",
        "order_dlq_url",
        "state_machine_arn",
        "alerts_topic_arn",
        "dashboard_name",
    }


def test_outputs_match_the_resources(stack_run: ProgramRun) -> None:
    outputs = stack_run.outputs
    assert outputs["api_url"] == h.only(stack_run, h.API_STAGE).outputs["invokeUrl"]
    assert outputs["orders_table_name"] == h.orders_table(stack_run).inputs["name"]
    assert outputs["failed_orders_table_name"] == h.failed_orders_table(stack_run).inputs["name"]
    assert outputs["order_queue_url"] == h.order_queue(stack_run).outputs["url"]
    assert outputs["order_dlq_url"] == h.dead_letter_queue(stack_run).outputs["url"]
    assert outputs["state_machine_arn"] == h.state_machine(stack_run).outputs["arn"]
    assert outputs["alerts_topic_arn"] == h.only(stack_run, h.TOPIC).outputs["arn"]
    assert outputs["dashboard_name"] == h.only(stack_run, h.DASHBOARD).inputs["dashboardName"]
    assert outputs["order_queue_url"] != outputs["order_dlq_url"]
    assert outputs["api_url"].endswith(f"/{stack_run.stack}")
