"""The reconciler's schedule: an EventBridge rule that alone may invoke it, on the configured rate."""

from __future__ import annotations

import pytest

from local.recorded_program import ProgramRun, RecordedResource, record_program
from tests.infra import helpers as h


def _rule(run: ProgramRun) -> RecordedResource:
    return h.reconcile_schedule(run)


def test_the_rule_is_a_schedule_not_an_event_pattern(stack_run: ProgramRun) -> None:
    rule = _rule(stack_run)
    assert rule.inputs["name"] == f"dofs-order-reconciler-{stack_run.stack}"
    assert rule.inputs["description"]
    assert "eventPattern" not in rule.inputs


@pytest.mark.parametrize("stack", h.STACKS)
def test_dev_and_prod_reconcile_every_minute(stack: str, request: pytest.FixtureRequest) -> None:
    run: ProgramRun = request.getfixturevalue(f"{stack}_run")
    # Singular: EventBridge refuses "rate(1 minutes)".
    assert _rule(run).inputs["scheduleExpression"] == "rate(1 minute)"


@pytest.mark.parametrize(
    ("minutes", "expression"), [("5", "rate(5 minutes)"), ("1440", "rate(1440 minutes)")]
)
def test_the_interval_comes_from_config(minutes: str, expression: str) -> None:
    run = record_program("dev", {"dofs:reconcileIntervalMinutes": minutes})
    assert _rule(run).inputs["scheduleExpression"] == expression


def test_the_target_is_the_reconciler_with_the_scheduled_event(stack_run: ProgramRun) -> None:
    (target,) = h.targets_of(stack_run, _rule(stack_run))
    assert target.inputs["arn"] == h.function(stack_run, h.RECONCILER).outputs["arn"]
    # The handler gets EventBridge's own scheduled event, not a transformed one.
    assert not {"input", "inputPath", "inputTransformer"} & set(target.inputs)


def test_only_the_schedule_may_invoke_the_reconciler(stack_run: ProgramRun) -> None:
    (permission,) = h.invoke_permissions(stack_run, h.RECONCILER)
    assert permission.inputs["action"] == "lambda:InvokeFunction"
    assert permission.inputs["principal"] == "events.amazonaws.com"
    assert permission.inputs["function"] == h.function(stack_run, h.RECONCILER).inputs["name"]
    assert permission.inputs["sourceArn"] == _rule(stack_run).outputs["arn"]


def test_the_schedule_invokes_nothing_else(stack_run: ProgramRun) -> None:
    rule_arn = _rule(stack_run).outputs["arn"]
    granted = [p for p in stack_run.of_type(h.PERMISSION) if p.inputs.get("sourceArn") == rule_arn]
    assert [p.inputs["function"] for p in granted] == [h.function(stack_run, h.RECONCILER).inputs["name"]]


def test_express_workflows_are_reconciled_too() -> None:
    """EXPRESS has no safety-net rule, and needs the reconciler all the more."""
    run = record_program("dev", {"dofs:workflowType": "EXPRESS"})
    (target,) = h.targets_of(run, _rule(run))
    assert target.inputs["arn"] == h.function(run, h.RECONCILER).outputs["arn"]
