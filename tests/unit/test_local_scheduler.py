"""The local EventBridge scheduler: which schedules it runs, how often, with what event."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.errors import LocalStackError
from local.scheduler import Schedule, ScheduledInvoker, rate_seconds, scheduled_event, schedules_in

FUNCTION_ARN = "arn:aws:lambda:ap-south-1:123456789012:function:dofs-reconciler-dev"
RULE_ARN = "arn:aws:events:ap-south-1:123456789012:rule/dofs-order-reconciler-dev"
DEADLINE_SECONDS = 10.0


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(1 hour)", 3600),
        ("rate(2 hours)", 7200),
        ("rate(1 day)", 86400),
        ("rate(3 days)", 259200),
        (" rate( 10 minutes ) ", 600),
    ],
)
def test_a_rate_expression_gives_its_interval(expression: str, seconds: int) -> None:
    assert rate_seconds(expression, "r") == seconds


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        (
            "cron(0 12 * * ? *)",
            "rule r: cron(0 12 * * ? *) is a cron schedule, which the local stack does not run",
        ),
        ("rate(1 minutes)", "rule r: rate(1 minutes): EventBridge expects 1 minute"),
        ("rate(5 minute)", "rule r: rate(5 minute): EventBridge expects 5 minutes"),
        ("rate(0 minutes)", "rule r: rate(0 minutes): the rate must be at least 1"),
        ("rate(1 week)", "rule r: 'rate(1 week)' is not a schedule the local stack runs"),
        ("rate(1.5 hours)", "rule r: 'rate(1.5 hours)' is not a schedule"),
        ("every minute", "rule r: 'every minute' is not a schedule"),
    ],
)
def test_an_expression_the_stack_cannot_run_is_refused_naming_the_rule(expression: str, message: str) -> None:
    with pytest.raises(LocalStackError) as refused:
        rate_seconds(expression, "r")

    assert str(refused.value).startswith(message)


@pytest.fixture
def events() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("events", region_name="ap-south-1")


def _rule(events: Any, name: str, target_arn: str = FUNCTION_ARN, **rule: Any) -> None:
    events.put_rule(Name=name, **rule)
    events.put_targets(Rule=name, Targets=[{"Id": f"{name}-target", "Arn": target_arn}])


def test_only_enabled_schedule_rules_with_lambda_targets_are_run(events: Any) -> None:
    _rule(events, "reconcile", ScheduleExpression="rate(2 minutes)")
    _rule(events, "disabled", ScheduleExpression="rate(1 minute)", State="DISABLED")
    _rule(events, "pattern", EventPattern=json.dumps({"source": ["aws.states"]}))
    _rule(events, "to-a-queue", "arn:aws:sqs:ap-south-1:123456789012:q", ScheduleExpression="rate(1 hour)")

    (schedule,) = schedules_in(events)

    assert (schedule.rule_name, schedule.target_id) == ("reconcile", "reconcile-target")
    assert schedule.rule_arn == events.describe_rule(Name="reconcile")["Arn"]
    assert (schedule.function_arn, schedule.function_name) == (FUNCTION_ARN, "dofs-reconciler-dev")
    assert schedule.interval_seconds == 120
    assert schedule.constant_input is None


def test_the_local_interval_replaces_every_rate(events: Any) -> None:
    _rule(events, "reconcile", ScheduleExpression="rate(2 minutes)")

    assert [s.interval_seconds for s in schedules_in(events, every_seconds=0.5)] == [0.5]


def test_a_cron_rule_stops_the_stack_naming_the_rule(events: Any) -> None:
    _rule(events, "nightly", ScheduleExpression="cron(0 2 * * ? *)")

    with pytest.raises(LocalStackError, match="rule nightly: cron"):
        schedules_in(events, every_seconds=1)


def test_a_target_transforming_the_event_is_refused(events: Any) -> None:
    events.put_rule(Name="reconcile", ScheduleExpression="rate(1 minute)")
    events.put_targets(Rule="reconcile", Targets=[{"Id": "t", "Arn": FUNCTION_ARN, "InputPath": "$.detail"}])

    with pytest.raises(
        LocalStackError, match=r"rule reconcile, target t: .* not InputPath or InputTransformer"
    ):
        schedules_in(events)


def _schedule(interval: float = 0.05, constant_input: str | None = None) -> Schedule:
    return Schedule("reconcile", RULE_ARN, "t", FUNCTION_ARN, interval, constant_input)


def test_the_event_is_the_scheduled_event_eventbridge_sends() -> None:
    event = scheduled_event(_schedule(), datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=UTC))

    assert event["source"] == "aws.events"
    assert event["detail-type"] == "Scheduled Event"
    assert event["resources"] == [RULE_ARN]
    assert (event["account"], event["region"]) == ("123456789012", "ap-south-1")
    assert event["time"] == "2025-01-02T03:04:05Z"
    assert event["detail"] == {}
    assert event["id"] != scheduled_event(_schedule())["id"]


class FakeFunction:
    """A Lambda client recording each invoke; fails while ``fails`` is set."""

    def __init__(self, *, fails: bool = False) -> None:
        self.fails = fails
        self.calls: list[tuple[str, Any, float]] = []
        self._lock = threading.Lock()

    def invoke(self, FunctionName: str, Payload: str) -> dict[str, Any]:  # noqa: N803 (boto3's names)
        with self._lock:
            self.calls.append((FunctionName, json.loads(Payload), time.monotonic()))
        if self.fails:
            error = {"errorType": "TransientStorageError", "errorMessage": "throttled"}
            return {"Payload": io.BytesIO(json.dumps(error).encode()), "FunctionError": "Unhandled"}
        return {"Payload": io.BytesIO(b'{"started": 0}')}

    def count(self) -> int:
        with self._lock:
            return len(self.calls)


def _wait_for(function: FakeFunction, count: int) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while function.count() < count:
        assert time.monotonic() < deadline, f"{function.count()} of {count} runs after {DEADLINE_SECONDS}s"
        time.sleep(0.01)


@pytest.fixture
def started() -> Iterator[list[ScheduledInvoker]]:
    invokers: list[ScheduledInvoker] = []
    yield invokers
    for invoker in invokers:
        invoker.stop()


def _start(started: list[ScheduledInvoker], function: FakeFunction, schedule: Schedule) -> ScheduledInvoker:
    invoker = ScheduledInvoker(schedule, lambda_client=function)
    started.append(invoker)
    invoker.start()
    return invoker


def test_the_function_runs_once_per_interval_until_stopped(started: list[ScheduledInvoker]) -> None:
    function = FakeFunction()
    begun = time.monotonic()
    invoker = _start(started, function, _schedule(interval=0.05))

    _wait_for(function, 4)
    invoker.stop()

    assert not invoker.is_alive()
    assert {name for name, _, _ in function.calls} == {FUNCTION_ARN}
    assert all(event["detail-type"] == "Scheduled Event" for _, event, _ in function.calls)
    # The n-th run comes no earlier than n intervals after the start (never early, never bunched).
    assert all(at - begun >= 0.05 * n - 0.01 for n, (_, _, at) in enumerate(function.calls, start=1))


def test_a_constant_input_replaces_the_event(started: list[ScheduledInvoker]) -> None:
    function = FakeFunction()
    _start(started, function, _schedule(constant_input='{"dry_run": true}'))

    _wait_for(function, 1)

    assert function.calls[0][1] == {"dry_run": True}


def test_a_failing_function_is_reported_in_one_line_and_the_schedule_goes_on(
    started: list[ScheduledInvoker], caplog: pytest.LogCaptureFixture
) -> None:
    function = FakeFunction(fails=True)
    with caplog.at_level(logging.WARNING, logger="dofs.local.scheduler"):
        _start(started, function, _schedule())
        _wait_for(function, 3)
        started[0].stop()

    warnings = [r.getMessage() for r in caplog.records if r.name == "dofs.local.scheduler"]
    assert len(warnings) >= 2
    assert warnings[0] == (
        "dofs-reconciler-dev failed on schedule reconcile (TransientStorageError); it runs again in 0.05 s"
    )


def test_an_invoke_that_raises_is_logged_and_the_schedule_goes_on(
    started: list[ScheduledInvoker], caplog: pytest.LogCaptureFixture
) -> None:
    class Unreachable(FakeFunction):
        def invoke(self, FunctionName: str, Payload: str) -> dict[str, Any]:  # noqa: N803
            super().invoke(FunctionName, Payload)
            raise ConnectionError("emulator gone")

    function = Unreachable()
    with caplog.at_level(logging.ERROR, logger="dofs.local.scheduler"):
        _start(started, function, _schedule())
        _wait_for(function, 2)

    assert any("could not invoke dofs-reconciler-dev" in r.getMessage() for r in caplog.records)


def test_a_constant_input_that_is_not_json_is_logged_and_does_not_end_the_schedule(
    caplog: pytest.LogCaptureFixture,
) -> None:
    function = FakeFunction()
    invoker = ScheduledInvoker(_schedule(constant_input="{not json"), lambda_client=function)

    with caplog.at_level(logging.ERROR, logger="dofs.local.scheduler"):
        assert invoker.fire() is None
        assert invoker.fire() is None

    assert function.calls == []
    assert sum("could not invoke dofs-reconciler-dev" in r.getMessage() for r in caplog.records) == 2
