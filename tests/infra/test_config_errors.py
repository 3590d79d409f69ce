"""A bad stack setting stops the program with a StackConfigError that names the key.

Most cases call ``parse_settings`` directly with the dev YAML plus one bad value; two go
through ``record_program`` to prove the real program stops, and a normal run afterwards
proves a failed run leaves Pulumi's mock runtime usable.
"""

from __future__ import annotations

import pytest

from components.config import StackConfigError, parse_settings
from local.pulumi_runner import stack_config
from local.recorded_program import ProgramRun, record_program
from tests.infra import helpers as h

INVALID = [
    pytest.param("dofs:maxReceiveCount", "abc", id="max-receive-count-not-a-number"),
    pytest.param("dofs:maxReceiveCount", "0", id="max-receive-count-zero"),
    pytest.param("dofs:fulfillmentSuccessRate", "1.5", id="success-rate-above-one"),
    pytest.param("dofs:fulfillmentSuccessRate", "-0.1", id="success-rate-negative"),
    pytest.param("dofs:logRetentionDays", "13", id="retention-not-a-cloudwatch-value"),
    pytest.param("dofs:workflowType", "FAST", id="workflow-type-unknown"),
    pytest.param("dofs:workflowLogLevel", "DEBUG", id="log-level-unknown"),
    pytest.param("dofs:workflowLogExecutionData", "sometimes", id="execution-data-not-a-boolean"),
    pytest.param("dofs:systemLogLevel", "ERROR", id="system-log-level-not-a-lambda-system-level"),
    pytest.param("dofs:logLevel", "WARN", id="log-level-in-lambdas-spelling"),
    pytest.param("dofs:traceSampleRate", "1.5", id="trace-sample-rate-above-one"),
    pytest.param("dofs:traceSampleRate", "-0.01", id="trace-sample-rate-negative"),
    pytest.param("dofs:fulfillmentBatchSize", "50", id="batch-above-ten-without-window"),
    pytest.param("dofs:maxRecieveCount", "3", id="misspelled-key"),
    pytest.param("dofs:lambdaMemoryMb", "64", id="memory-below-lambda-minimum"),
    pytest.param("dofs:fulfillTimeoutSeconds", "901", id="timeout-above-lambda-maximum"),
    pytest.param("dofs:protectData", "maybe", id="protect-data-not-a-boolean"),
    pytest.param("dofs:reconcileAfterSeconds", "0", id="reconcile-after-zero"),
    pytest.param("dofs:reconcileAfterSeconds", "soon", id="reconcile-after-not-a-number"),
    pytest.param("dofs:reconcileAfterSeconds", "86401", id="reconcile-after-above-a-day"),
    pytest.param("dofs:reconcileMaxAttempts", "0", id="reconcile-attempts-zero"),
    pytest.param("dofs:reconcileMaxAttempts", "101", id="reconcile-attempts-above-100"),
    pytest.param("dofs:reconcileIntervalMinutes", "0", id="reconcile-interval-zero"),
    pytest.param("dofs:reconcileIntervalMinutes", "1.5", id="reconcile-interval-fractional"),
    pytest.param("dofs:reconcileIntervalMinutes", "1441", id="reconcile-interval-above-a-day"),
    pytest.param("dofs:alarmEmails", "ops@example.com", id="alarm-emails-not-a-list"),
    pytest.param("dofs:alarmEmails", '["ops"]', id="alarm-emails-not-an-address"),
    pytest.param("dofs:alarmEmails", '["a@example.com", "a@example.com"]', id="alarm-emails-twice"),
    pytest.param("dofs:alarmEmails", '{"to": "a@example.com"}', id="alarm-emails-an-object"),
]


def _dev_config(**changes: str | None) -> dict[str, str]:
    config = stack_config("dev")
    for key, value in changes.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    return config


@pytest.mark.parametrize("stack", h.STACKS)
def test_the_stack_yaml_is_valid(stack: str) -> None:
    settings = parse_settings(stack_config(stack), stack)
    assert settings.environment == stack


@pytest.mark.parametrize(("key", "value"), INVALID)
def test_invalid_setting_names_its_key(key: str, value: str) -> None:
    with pytest.raises(StackConfigError) as raised:
        parse_settings({**stack_config("dev"), key: value}, "dev")
    assert str(raised.value).startswith(f"{key}:")


def test_batch_size_error_names_the_window_setting_it_needs() -> None:
    with pytest.raises(StackConfigError, match="dofs:fulfillmentBatchWindowSeconds"):
        parse_settings({**stack_config("dev"), "dofs:fulfillmentBatchSize": "50"}, "dev")


def test_batch_size_above_ten_is_fine_with_a_window() -> None:
    config = {
        **stack_config("dev"),
        "dofs:fulfillmentBatchSize": "50",
        "dofs:fulfillmentBatchWindowSeconds": "1",
    }
    assert parse_settings(config, "dev").fulfillment_batch_size == 50


def test_misspelled_key_error_lists_the_real_one() -> None:
    with pytest.raises(StackConfigError, match="dofs:maxReceiveCount"):
        parse_settings({**stack_config("dev"), "dofs:maxRecieveCount": "3"}, "dev")


@pytest.mark.parametrize("region", [None, ""], ids=["missing", "empty"])
def test_region_is_required(region: str | None) -> None:
    with pytest.raises(StackConfigError) as raised:
        parse_settings(_dev_config(**{"aws:region": region}), "dev")
    assert str(raised.value).startswith("aws:region:")


def test_other_namespaces_are_not_dofs_business() -> None:
    parse_settings({**stack_config("dev"), "aws:profile": "someone"}, "dev")


def test_program_stops_on_an_invalid_value() -> None:
    with pytest.raises(StackConfigError, match=r"^dofs:maxReceiveCount:"):
        record_program("dev", {"dofs:maxReceiveCount": "abc"})


def test_program_stops_on_an_invalid_reconcile_interval() -> None:
    with pytest.raises(StackConfigError, match=r"^dofs:reconcileIntervalMinutes:"):
        record_program("dev", {"dofs:reconcileIntervalMinutes": "0"})


def test_program_stops_without_a_region() -> None:
    with pytest.raises(StackConfigError, match=r"^aws:region:"):
        record_program("dev", {"aws:region": ""})


def test_a_failed_run_leaves_the_runtime_usable(dev_run: ProgramRun) -> None:
    with pytest.raises(StackConfigError, match=r"^dofs:workflowType:"):
        record_program("dev", {"dofs:workflowType": "FAST"})
    again = record_program("dev")
    # Registration order is asynchronous, so compare the sets of resources.
    assert sorted((r.type, r.name) for r in again.resources) == sorted(
        (r.type, r.name) for r in dev_run.resources
    )
    assert again.outputs == dev_run.outputs


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("dofs:maxOrderBodyBytes", "65537"),
        ("dofs:workflowTimeoutSeconds", "5"),
        ("dofs:logLevel", "VERBOSE"),
    ],
)
def test_limits_that_aws_would_enforce_later_are_refused_now(key: str, value: str) -> None:
    with pytest.raises(StackConfigError, match=key):
        parse_settings({"aws:region": "ap-south-1", key: value}, "dev")


def test_a_bad_stack_name_is_reported_as_the_stack_name() -> None:
    with pytest.raises(StackConfigError, match="stack name"):
        parse_settings({"aws:region": "ap-south-1"}, "Dev_Stack")


def test_an_express_workflow_longer_than_five_minutes_names_the_timeout_key() -> None:
    config = {**stack_config("dev"), "dofs:workflowType": "EXPRESS", "dofs:workflowTimeoutSeconds": "301"}

    with pytest.raises(StackConfigError) as raised:
        parse_settings(config, "dev")

    message = str(raised.value)
    assert message.startswith("dofs:workflowTimeoutSeconds:")
    assert "EXPRESS" in message and "300" in message and "301" in message


def test_five_minutes_is_the_longest_express_workflow_and_standard_may_run_longer() -> None:
    express = {**stack_config("dev"), "dofs:workflowType": "EXPRESS", "dofs:workflowTimeoutSeconds": "300"}
    standard = {**stack_config("dev"), "dofs:workflowType": "STANDARD", "dofs:workflowTimeoutSeconds": "301"}

    assert parse_settings(express, "dev").workflow_timeout_seconds == 300
    assert parse_settings(standard, "dev").workflow_timeout_seconds == 301


def test_prod_cannot_be_given_a_workflow_timeout_its_express_type_refuses() -> None:
    with pytest.raises(StackConfigError, match=r"^dofs:workflowTimeoutSeconds:.*EXPRESS"):
        record_program("prod", {"dofs:workflowTimeoutSeconds": "600"})
