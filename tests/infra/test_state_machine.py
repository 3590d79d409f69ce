"""The order-processing state machine: its graph, retries, catches, targets and settings."""

from __future__ import annotations

import json
from typing import Any

import pytest

from handlers.errors import OrderAlreadyFinalError
from local.recorded_program import ProgramRun, record_program
from tests.infra import helpers as h

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
SQS_SEND_MESSAGE = "arn:aws:states:::sqs:sendMessage"
# AWS's advice for Lambda tasks: retry these, they are the service's, not the function's.
LAMBDA_TRANSIENT = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}
# Where a send that failed for good ends: the order stays PENDING_FULFILLMENT, and the
# reconciler re-enqueues it.
ENQUEUE_DEFERRED = "EnqueueDeferredToReconciler"
# Where a second execution of an order already final ends (EXPRESS runs at least once).
ALREADY_PROGRESSED = "OrderAlreadyProgressed"
# The order's path when all goes well: one store (RECEIVED -> PENDING_FULFILLMENT), one send.
HAPPY_PATH = ["ValidateOrder", "IsOrderValid", "StoreOrder", "EnqueueForFulfillment"]


@pytest.fixture(scope="module")
def definitions(dev_run: ProgramRun, prod_run: ProgramRun) -> dict[str, dict[str, Any]]:
    return {run.stack: run.state_machine_definition() for run in (dev_run, prod_run)}


@pytest.fixture
def definition(stack_run: ProgramRun, definitions: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return definitions[stack_run.stack]


def _states(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    states: dict[str, dict[str, Any]] = definition["States"]
    return states


def _tasks(definition: dict[str, Any], resource: str | None = None) -> dict[str, dict[str, Any]]:
    return {
        name: state
        for name, state in _states(definition).items()
        if state["Type"] == "Task" and resource in (None, state["Resource"])
    }


def _is_failure_recorder(definition: dict[str, Any], state: dict[str, Any]) -> bool:
    """A task whose only way on is a Fail state: it records why the execution fails."""
    following = state.get("Next")
    return following is not None and _states(definition)[following]["Type"] == "Fail"


def test_the_execution_times_out_as_configured(stack_run: ProgramRun, config: h.StackConfig) -> None:
    definition = stack_run.state_machine_definition()
    assert definition["TimeoutSeconds"] == config.integer("dofs:workflowTimeoutSeconds")


def test_the_raw_request_body_is_dropped_after_validation(definition: dict[str, Any]) -> None:
    validate = _states(definition)["ValidateOrder"]
    assert validate["ResultPath"] == "$"
    assert "request_body" not in json.dumps(validate["ResultSelector"])
    assert validate["ResultSelector"]["order_id.$"] == "$.Payload.order_id"


def test_start_and_every_transition_name_an_existing_state(definition: dict[str, Any]) -> None:
    states = _states(definition)
    assert definition["StartAt"] in states
    for name, state in states.items():
        for target in h.transitions(state):
            assert target in states, f"{name} -> {target}"


def test_every_state_is_reachable(definition: dict[str, Any]) -> None:
    assert h.reachable(definition) == set(_states(definition))


def test_every_state_ends_or_moves_on(definition: dict[str, Any]) -> None:
    for name, state in _states(definition).items():
        if state["Type"] in {"Succeed", "Fail"}:
            assert "Next" not in state and "End" not in state, name
        elif state["Type"] == "Choice":
            assert state["Choices"] and "Default" in state, name
        else:
            assert ("Next" in state) != bool(state.get("End")), name


def test_every_execution_ends_in_succeed_or_fail_or_with_its_send(definition: dict[str, Any]) -> None:
    send, _ = _send_task(definition)
    ending = {name for name, s in _states(definition).items() if "Next" not in s and s["Type"] != "Choice"}
    assert {_states(definition)[name]["Type"] for name in ending - {send}} == {"Succeed", "Fail"}
    assert [name for name in ending if _states(definition)[name]["Type"] == "Task"] == [send]


def test_the_happy_path_validates_stores_and_enqueues_and_nothing_else(definition: dict[str, Any]) -> None:
    states = _states(definition)
    assert definition["StartAt"] == HAPPY_PATH[0]
    assert states["ValidateOrder"]["Next"] == "IsOrderValid"
    (valid,) = states["IsOrderValid"]["Choices"]
    assert valid["Next"] == "StoreOrder"
    assert states["StoreOrder"]["Next"] == "EnqueueForFulfillment"
    assert states["EnqueueForFulfillment"]["End"] is True
    # No separate status write between storing and sending (the one write does both).
    assert {"MarkPendingFulfillment", "OrderAccepted"}.isdisjoint(states)


def test_the_workflow_writes_orders_only_through_its_functions(definition: dict[str, Any]) -> None:
    resources = {state["Resource"] for state in _tasks(definition).values()}
    assert resources == {LAMBDA_INVOKE, SQS_SEND_MESSAGE}


def test_every_task_retries(definition: dict[str, Any]) -> None:
    for name, state in _tasks(definition).items():
        assert state.get("Retry"), name
        for retrier in state["Retry"]:
            assert retrier["ErrorEquals"], name
            assert retrier["MaxAttempts"] >= 1, name


def test_lambda_tasks_retry_lambda_transient_errors_with_jittered_backoff(definition: dict[str, Any]) -> None:
    tasks = _tasks(definition, LAMBDA_INVOKE)
    assert len(tasks) >= 3
    for name, state in tasks.items():
        retriers = [r for r in state["Retry"] if set(r["ErrorEquals"]) >= LAMBDA_TRANSIENT]
        assert retriers, f"{name} does not retry {sorted(LAMBDA_TRANSIENT)}"
        for retrier in retriers:
            assert retrier["JitterStrategy"] == "FULL", name
            assert retrier["BackoffRate"] > 1, name
            assert retrier["MaxAttempts"] >= 2, name


def _send_task(definition: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    ((name, state),) = _tasks(definition, SQS_SEND_MESSAGE).items()
    return name, state


def test_every_task_but_the_last_resort_recorder_catches_everything_last(definition: dict[str, Any]) -> None:
    tasks = _tasks(definition)
    last_resort = {
        catcher["Next"]
        for state in tasks.values()
        for catcher in state.get("Catch", [])
        if catcher["ErrorEquals"] == ["States.ALL"] and catcher["Next"] in tasks
    }
    assert len(last_resort) == 1
    for name, state in _tasks(definition).items():
        if name in last_resort:
            # Its own failure ends the execution; the EventBridge safety net records it.
            assert "Catch" not in state, name
            continue
        catchers = state.get("Catch", [])
        assert catchers, name
        # States.ALL must be alone and last: Step Functions rejects anything else.
        assert catchers[-1]["ErrorEquals"] == ["States.ALL"], name
        assert all("States.ALL" not in c["ErrorEquals"] for c in catchers[:-1]), name


def test_caught_errors_lead_to_a_failure_recorder_but_a_failed_send(definition: dict[str, Any]) -> None:
    states = _states(definition)
    send, _ = _send_task(definition)
    for name, state in _tasks(definition).items():
        for catcher in state.get("Catch", []):
            if catcher["ErrorEquals"] == ["States.ALL"]:
                # The recorder reads the error where the catcher put it; the deferral keeps it
                # in the execution's output.
                assert catcher["ResultPath"] == "$.failure", name
                if name == send:
                    assert catcher["Next"] == ENQUEUE_DEFERRED, name
                else:
                    assert _is_failure_recorder(definition, states[catcher["Next"]]), name


def test_a_failed_send_leaves_the_order_pending_for_the_reconciler(definition: dict[str, Any]) -> None:
    """Once its retries are spent, a send is deferred: the execution succeeds, the order
    stays PENDING_FULFILLMENT (set by the state before), and nothing records it as failed."""
    states = _states(definition)
    send, state = _send_task(definition)
    assert state["Retry"], send
    assert state["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": ENQUEUE_DEFERRED}
    ]
    deferred = states[ENQUEUE_DEFERRED]
    assert deferred["Type"] == "Succeed"
    assert "PENDING_FULFILLMENT" in deferred["Comment"]
    assert "reconciler" in deferred["Comment"]
    # The successful send ends the execution itself.
    assert state["End"] is True
    assert "Next" not in state


def test_nothing_after_the_order_is_pending_can_fail_it(definition: dict[str, Any]) -> None:
    """From the send on, every path ends in Succeed: no recorder, no Fail."""
    send, _ = _send_task(definition)
    after_send = h.reachable({"StartAt": send, "States": _states(definition)})
    assert after_send == {send, ENQUEUE_DEFERRED}
    assert _states(definition)[ENQUEUE_DEFERRED]["Type"] == "Succeed"


def test_storing_an_order_already_final_ends_the_execution_quietly(definition: dict[str, Any]) -> None:
    """A second execution of one order (EXPRESS runs at least once) finds it final: the
    store raises OrderAlreadyFinalError, caught before anything else, into a Succeed."""
    states = _states(definition)
    store = states["StoreOrder"]
    assert store["Parameters"]["Payload"]["operation"] == "store_validated"
    first, *others = store["Catch"]
    assert first["ErrorEquals"] == [OrderAlreadyFinalError.__name__]
    assert first["Next"] == ALREADY_PROGRESSED
    assert states[ALREADY_PROGRESSED] == {"Type": "Succeed"}
    assert [catcher["ErrorEquals"] for catcher in others] == [["States.ALL"]]
    # The retries are for transient errors only: an order already final stays final.
    retried = {error for retrier in store["Retry"] for error in retrier["ErrorEquals"]}
    assert OrderAlreadyFinalError.__name__ not in retried


def test_errors_before_the_send_are_still_recorded(definition: dict[str, Any]) -> None:
    states = _states(definition)
    send, _ = _send_task(definition)
    recorders = [
        name for name, state in _tasks(definition).items() if _is_failure_recorder(definition, state)
    ]
    workflow_failure = [
        name
        for name in recorders
        if states[name]["Parameters"]["Payload"]["operation"] == "record_workflow_failure"
    ]
    assert len(workflow_failure) == 1
    catching = {
        name
        for name, state in _tasks(definition).items()
        for catcher in state.get("Catch", [])
        if catcher["Next"] == workflow_failure[0]
    }
    assert catching == set(_tasks(definition)) - {send, workflow_failure[0]}


def test_lambda_tasks_invoke_the_recorded_functions(
    stack_run: ProgramRun, definition: dict[str, Any]
) -> None:
    validator = h.function(stack_run, h.VALIDATOR).outputs["arn"]
    storage = h.function(stack_run, h.ORDER_STORAGE).outputs["arn"]
    targets = {name: s["Parameters"]["FunctionName"] for name, s in _tasks(definition, LAMBDA_INVOKE).items()}
    assert targets[definition["StartAt"]] == validator
    assert {t for n, t in targets.items() if n != definition["StartAt"]} == {storage}


def test_send_message_task_uses_the_order_queue(stack_run: ProgramRun, definition: dict[str, Any]) -> None:
    (task,) = _tasks(definition, SQS_SEND_MESSAGE).values()
    assert task["Parameters"]["QueueUrl"] == h.order_queue(stack_run).outputs["url"]
    assert task["Parameters"]["QueueUrl"] != h.dead_letter_queue(stack_run).outputs["url"]


def test_enqueueing_happens_right_after_the_order_is_stored_pending(definition: dict[str, Any]) -> None:
    send, _ = _send_task(definition)
    (store,) = [
        name
        for name, state in _tasks(definition, LAMBDA_INVOKE).items()
        if state["Parameters"]["Payload"].get("operation") == "store_validated"
    ]
    assert _states(definition)[store]["Next"] == send


def test_invalid_orders_are_recorded_then_succeed(definition: dict[str, Any]) -> None:
    states = _states(definition)
    (choice,) = [s for s in states.values() if s["Type"] == "Choice"]
    rejection = states[choice["Default"]]
    assert rejection["Type"] == "Task" and rejection["Resource"] == LAMBDA_INVOKE
    assert rejection["Parameters"]["Payload"]["operation"] == "record_rejection"
    # A rejection is an outcome, not a fault: ExecutionsFailed (the workflow-failures
    # alarm) must not count it.
    assert states[rejection["Next"]]["Type"] == "Succeed"
    # The valid branch goes on to store the order, not to the rejection.
    (valid,) = choice["Choices"]
    assert valid["Next"] != choice["Default"]
    assert states[valid["Next"]]["Parameters"]["Payload"]["operation"] == "store_validated"


def test_the_choice_follows_the_validator(definition: dict[str, Any]) -> None:
    states = _states(definition)
    start = states[definition["StartAt"]]
    assert states[start["Next"]]["Type"] == "Choice"


def test_type_comes_from_config(stack_run: ProgramRun, config: h.StackConfig) -> None:
    assert h.state_machine(stack_run).inputs["type"] == config.raw("dofs:workflowType")


def test_express_override_makes_an_express_workflow() -> None:
    run = record_program("dev", {"dofs:workflowType": "EXPRESS"})
    assert h.state_machine(run).inputs["type"] == "EXPRESS"


def test_logging_from_config(stack_run: ProgramRun, config: h.StackConfig) -> None:
    logging = h.state_machine(stack_run).inputs["loggingConfiguration"]
    assert logging["level"] == config.raw("dofs:workflowLogLevel")
    assert logging["includeExecutionData"] is config.flag("dofs:workflowLogExecutionData")
    group = h.by_physical_name(
        stack_run, h.LOG_GROUP, f"/aws/vendedlogs/states/dofs-order-processing-{stack_run.stack}"
    )
    assert logging["logDestination"] == f"{group.outputs['arn']}:*"
    assert group.inputs["retentionInDays"] == config.integer("dofs:logRetentionDays")


def test_log_level_override() -> None:
    run = record_program("dev", {"dofs:workflowLogLevel": "FATAL"})
    assert h.state_machine(run).inputs["loggingConfiguration"]["level"] == "FATAL"


def test_tracing_enabled(stack_run: ProgramRun) -> None:
    assert h.state_machine(stack_run).inputs["tracingConfiguration"] == {"enabled": True}


def test_runs_as_its_own_role(stack_run: ProgramRun) -> None:
    role = h.state_machine_role(stack_run)
    assert role.outputs["arn"] not in {f.inputs["role"] for f in stack_run.of_type(h.FUNCTION)}
