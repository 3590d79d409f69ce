"""Logs and traces sized per stack: Lambda's JSON logs and their levels, the workflow's log,
and X-Ray sampling bounded by DOFS's own rules."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import pytest

from handlers.observability import log_level
from local.recorded_program import ProgramRun, record_program
from tests.infra import helpers as h

# X-Ray's Default rule: evaluated last (priority 10000), one request a second, then 5%.
DEFAULT_RULE_PRIORITY = 10000
LAMBDA_SPELLING = {"DEBUG": "DEBUG", "INFO": "INFO", "WARNING": "WARN", "ERROR": "ERROR", "CRITICAL": "FATAL"}


def _logging_config(run: ProgramRun, component: str) -> dict[str, Any]:
    config: dict[str, Any] = h.function(run, component).inputs["loggingConfig"]
    return config


# --- Lambda logs ----------------------------------------------------------------------------


def test_every_function_logs_json_at_the_configured_levels(
    stack_run: ProgramRun, config: h.StackConfig
) -> None:
    for component in h.FUNCTIONS:
        logging_config = _logging_config(stack_run, component)
        assert logging_config["logFormat"] == "JSON", component
        assert logging_config["applicationLogLevel"] == LAMBDA_SPELLING[config.raw("dofs:logLevel")]
        assert logging_config["systemLogLevel"] == config.raw("dofs:systemLogLevel")


def test_prod_drops_lambdas_own_lines_and_keeps_one_info_line_per_step(
    dev_run: ProgramRun, prod_run: ProgramRun
) -> None:
    for component in h.FUNCTIONS:
        assert _logging_config(prod_run, component)["systemLogLevel"] == "WARN", component
        assert _logging_config(prod_run, component)["applicationLogLevel"] == "INFO", component
        assert _logging_config(dev_run, component)["systemLogLevel"] == "INFO", component


@pytest.mark.parametrize(("configured", "lambda_level"), [("WARNING", "WARN"), ("CRITICAL", "FATAL")])
def test_the_application_level_is_spelled_as_lambda_accepts_it(configured: str, lambda_level: str) -> None:
    run = record_program("dev", {"dofs:logLevel": configured, "dofs:systemLogLevel": "DEBUG"})
    for component in h.FUNCTIONS:
        assert _logging_config(run, component)["applicationLogLevel"] == lambda_level, component
        assert _logging_config(run, component)["systemLogLevel"] == "DEBUG", component


@pytest.mark.parametrize("configured", ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"])
def test_handlers_log_at_the_level_lambda_sets_from_the_function(configured: str) -> None:
    """Lambda sets AWS_LAMBDA_LOG_LEVEL to the application level; the handlers honour it,
    and it means the same level as the LOG_LEVEL the function is also given."""
    run = record_program("dev", {"dofs:logLevel": configured})
    for component in h.FUNCTIONS:
        fn = h.function(run, component)
        lambda_environment = {
            **fn.inputs["environment"]["variables"],
            "AWS_LAMBDA_LOG_LEVEL": fn.inputs["loggingConfig"]["applicationLogLevel"],
        }
        assert log_level(lambda_environment) == logging.getLevelName(configured), component


# --- the workflow's log -----------------------------------------------------------------------


def test_prod_logs_workflow_errors_without_execution_data(prod_run: ProgramRun) -> None:
    """Execution data is the order itself, customer address included."""
    logging_configuration = h.state_machine(prod_run).inputs["loggingConfiguration"]
    assert logging_configuration["level"] == "ERROR"
    assert logging_configuration["includeExecutionData"] is False


def test_dev_logs_every_workflow_event_with_its_data(dev_run: ProgramRun) -> None:
    logging_configuration = h.state_machine(dev_run).inputs["loggingConfiguration"]
    assert logging_configuration["level"] == "ALL"
    assert logging_configuration["includeExecutionData"] is True


def test_execution_data_is_left_out_unless_a_stack_asks_for_it() -> None:
    run = record_program("dev", {"dofs:workflowLogExecutionData": "false"})
    assert h.state_machine(run).inputs["loggingConfiguration"]["includeExecutionData"] is False


# --- X-Ray ----------------------------------------------------------------------------------


def _rule_for(run: ProgramRun, service_name: str) -> dict[str, Any]:
    rules = [r.inputs for r in run.of_type(h.SAMPLING_RULE) if r.inputs["serviceName"] == service_name]
    assert len(rules) == 1, f"expected one sampling rule for {service_name}, found {len(rules)}"
    return rules[0]


def _traced_services(run: ProgramRun) -> list[str]:
    """X-Ray's names of the services that sample by rule: the API stage and the state machine."""
    api = h.only(run, h.REST_API).inputs["name"]
    stage = h.only(run, h.API_STAGE).inputs["stageName"]
    return [f"{api}/{stage}", h.state_machine(run).inputs["name"]]


def test_the_api_and_the_workflow_are_sampled_by_rules_of_the_stack(
    stack_run: ProgramRun, config: h.StackConfig
) -> None:
    for service in _traced_services(stack_run):
        rule = _rule_for(stack_run, service)
        assert rule["reservoirSize"] == 1, service
        assert Decimal(str(rule["fixedRate"])) == config.decimal("dofs:traceSampleRate"), service
        assert rule["priority"] < DEFAULT_RULE_PRIORITY, service
        assert rule["ruleName"].endswith(f"-{stack_run.stack}")
        assert len(rule["ruleName"]) <= 32
        assert {rule[k] for k in ("serviceType", "resourceArn", "host", "httpMethod", "urlPath")} == {"*"}


def test_tracing_stays_on_and_bounded_in_prod(prod_run: ProgramRun) -> None:
    assert h.state_machine(prod_run).inputs["tracingConfiguration"] == {"enabled": True}
    assert h.only(prod_run, h.API_STAGE).inputs["xrayTracingEnabled"] is True
    assert {f.inputs["tracingConfig"]["mode"] for f in prod_run.of_type(h.FUNCTION)} == {"Active"}
    for rule in prod_run.of_type(h.SAMPLING_RULE):
        assert rule.inputs["reservoirSize"] <= 1, rule.name
        assert rule.inputs["fixedRate"] <= 0.05, rule.name


def test_the_sample_rate_follows_the_config() -> None:
    run = record_program("dev", {"dofs:traceSampleRate": "0.2"})
    for service in _traced_services(run):
        assert _rule_for(run, service)["fixedRate"] == 0.2, service


def test_two_stacks_in_one_account_have_rules_of_their_own(dev_run: ProgramRun, prod_run: ProgramRun) -> None:
    def rule_names(run: ProgramRun) -> set[str]:
        return {r.inputs["ruleName"] for r in run.of_type(h.SAMPLING_RULE)}

    assert len(rule_names(dev_run)) == 2
    assert not rule_names(dev_run) & rule_names(prod_run)
