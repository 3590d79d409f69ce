"""Executions that end badly outside any Catch still reach order_storage (STANDARD only: dev).

prod runs EXPRESS, which emits no status events; there the reconciler alone records them."""

from __future__ import annotations

import json
import re

import pytest

from components.order_workflow import FAILURE_EVENT_TEMPLATE
from handlers.storage_requests import RecordWorkflowFailure, parse_storage_request
from local.recorded_program import ProgramRun, RecordedResource, record_program
from tests.infra import helpers as h


def _rule(run: ProgramRun) -> RecordedResource:
    return h.execution_ended_rule(run)


def test_the_rule_matches_this_state_machines_bad_endings(dev_run: ProgramRun) -> None:
    pattern = json.loads(_rule(dev_run).inputs["eventPattern"])

    assert pattern["source"] == ["aws.states"]
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    assert pattern["detail"]["stateMachineArn"] == [h.state_machine(dev_run).outputs["arn"]]
    assert sorted(pattern["detail"]["status"]) == ["ABORTED", "FAILED", "TIMED_OUT"]


def test_the_target_is_order_storage_with_a_record_workflow_failure_event(dev_run: ProgramRun) -> None:
    (target,) = h.targets_of(dev_run, _rule(dev_run))
    storage = h.function(dev_run, h.ORDER_STORAGE)

    assert target.inputs["arn"] == storage.outputs["arn"]
    transformer = target.inputs["inputTransformer"]
    assert transformer["inputPaths"]["order_id"] == "$.detail.name"  # executions are named after orders
    assert transformer["inputPaths"]["status"] == "$.detail.status"


def _fill_like_eventbridge(template: str, values: dict[str, str]) -> str:
    """Inside a JSON string a placeholder becomes the bare value; outside, a JSON string."""
    placeholder = re.compile(r"<(\w+)>")
    parts = re.split(r'("(?:[^"\\]|\\.)*")', template)
    return "".join(
        placeholder.sub(lambda m: values[m.group(1)], part)
        if part.startswith('"')
        else placeholder.sub(lambda m: json.dumps(values[m.group(1)]), part)
        for part in parts
    )


def test_the_transformed_event_is_a_valid_storage_request() -> None:
    values = {"order_id": "ord-1", "status": "TIMED_OUT", "execution_arn": "arn:exec"}

    event = json.loads(_fill_like_eventbridge(FAILURE_EVENT_TEMPLATE, values))
    request = parse_storage_request(event)

    assert isinstance(request, RecordWorkflowFailure)
    assert (request.order_id, request.error) == ("ord-1", "TIMED_OUT")
    assert "arn:exec" in request.cause


def test_only_this_rule_may_invoke_order_storage(dev_run: ProgramRun) -> None:
    (permission,) = h.invoke_permissions(dev_run, h.ORDER_STORAGE)

    assert permission.inputs["principal"] == "events.amazonaws.com"
    assert permission.inputs["function"] == h.function(dev_run, h.ORDER_STORAGE).inputs["name"]
    assert permission.inputs["sourceArn"] == _rule(dev_run).outputs["arn"]


@pytest.mark.parametrize(
    ("stack", "overrides"),
    [("dev", {"dofs:workflowType": "EXPRESS"}), ("prod", {})],
    ids=["dev made EXPRESS", "prod"],
)
def test_express_workflows_have_no_rule_because_they_emit_no_status_events(
    stack: str, overrides: dict[str, str]
) -> None:
    run = record_program(stack, overrides)

    assert h.state_machine(run).inputs["type"] == "EXPRESS"
    # Only the reconciler's schedule is left, and nothing may invoke order_storage.
    (rule,) = run.of_type(h.EVENT_RULE)
    assert rule.inputs["name"] == f"dofs-order-reconciler-{stack}"
    assert [t.inputs["arn"] for t in run.of_type(h.EVENT_TARGET)] == [
        h.function(run, h.RECONCILER).outputs["arn"]
    ]
    assert h.invoke_permissions(run, h.ORDER_STORAGE) == []
