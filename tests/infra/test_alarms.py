"""Every alarm: what it watches, how, and that it notifies the stack's alerts topic.

The expectations are written out here, one row per alarm with the reason for its
numbers, rather than read back from components/alarm_specs.py: a changed threshold or
statistic must change a test too. Metric math is evaluated on sample minutes
(``evaluate``) to show the ratio alarms fire in their case and stay quiet on 1 of 1.
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

import pytest

from local.recorded_program import ProgramRun, RecordedResource
from tests.infra import helpers as h

Dimensions = Mapping[str, str]
MetricKey = tuple[str, str, tuple[tuple[str, str], ...], str]
MetricsOf = Callable[[ProgramRun], set[MetricKey]]


@dataclass(frozen=True)
class Expected:
    metrics: MetricsOf
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: Callable[[h.StackConfig], float]
    why: str


def _metric(namespace: str, name: str, dimensions: Dimensions, stat: str) -> MetricKey:
    return (namespace, name, tuple(sorted(dimensions.items())), stat)


def _service(run: ProgramRun) -> dict[str, str]:
    return {"service": f"dofs-{run.stack}"}


def _dlq(run: ProgramRun) -> dict[str, str]:
    return {"QueueName": h.dead_letter_queue(run).inputs["name"]}


def _queue(run: ProgramRun) -> dict[str, str]:
    return {"QueueName": h.order_queue(run).inputs["name"]}


def _api(run: ProgramRun) -> dict[str, str]:
    return {"ApiName": h.only(run, h.REST_API).inputs["name"], "Stage": run.stack}


def _machine(run: ProgramRun) -> dict[str, str]:
    return {"StateMachineArn": h.state_machine(run).outputs["arn"]}


def _failed(run: ProgramRun) -> set[MetricKey]:
    return {
        _metric("DOFS", "OrdersFailed", {**_service(run), "stage": stage}, "Sum")
        for stage in ("validation", "workflow", "fulfillment")
    }


def _visibility(config: h.StackConfig) -> int:
    return 6 * config.integer("dofs:fulfillTimeoutSeconds") + config.integer(
        "dofs:fulfillmentBatchWindowSeconds"
    )


EXPECTED: dict[str, Expected] = {
    "order-dlq-not-drained": Expected(
        lambda run: {
            _metric("AWS/SQS", "ApproximateNumberOfMessagesVisible", _dlq(run), "Maximum"),
            _metric("AWS/SQS", "ApproximateNumberOfMessagesNotVisible", _dlq(run), "Maximum"),
        },
        60, 5, 5, lambda config: 0,
        "dlq_processor drains within seconds; a message it keeps failing is mostly in flight, and the "
        "age metric drops it after 3 receives, so: visible + in flight above 0 for 5 minutes",
    ),
    "order-queue-stalled": Expected(
        lambda run: {_metric("AWS/SQS", "ApproximateAgeOfOldestMessage", _queue(run), "Maximum")},
        60, 3, 3, lambda config: 2 * _visibility(config) + 60,
        "a healthy counted message is at most two visibility timeouts old; older for 3 minutes: no consumer",
    ),
    "orders-failed": Expected(
        _failed, 300, 1, 1, lambda config: 10,
        "every stage's OrdersFailed with its full dimension set; more than 10 in 5 minutes is an outage",
    ),
    "fulfillment-failure-ratio": Expected(
        lambda run: _failed(run) | {_metric("DOFS", "OrdersFulfilled", _service(run), "Sum")},
        300, 2, 2, lambda config: 10,
        "failed / (failed + fulfilled) above 10 % twice in a row, from 20 final orders a period",
    ),
    "api-5xx-ratio": Expected(
        lambda run: {
            _metric("AWS/ApiGateway", "5XXError", _api(run), "Sum"),
            _metric("AWS/ApiGateway", "Count", _api(run), "Sum"),
        },
        300, 2, 2, lambda config: 5,
        "5xx share above 5 % twice in a row, from 20 requests a period (room for throttled-storage 503s)",
    ),
    "api-latency-p99": Expected(
        lambda run: {_metric("AWS/ApiGateway", "Latency", _api(run), "p99")},
        300, 3, 3, lambda config: 2500,
        "p99 above 2.5 s for 15 minutes: a dependency is slow, not a cold start",
    ),
    "workflow-failures": Expected(
        lambda run: {
            _metric("AWS/States", name, _machine(run), "Sum")
            for name in ("ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted")
        },
        300, 1, 1, lambda config: 0,
        "a rejection succeeds, so any failed, timed-out or aborted execution is a fault",
    ),
    "reconciler-give-ups": Expected(
        lambda run: {_metric("DOFS", "ReconcilerActions", {**_service(run), "action": "failed"}, "Sum")},
        300, 1, 1, lambda config: 0,
        "any order the reconciler gave up on: a healthy pipeline never leaves one in flight that long",
    ),
    "reconciler-schedule-undelivered": Expected(
        lambda run: {
            _metric(
                "AWS/SQS",
                "ApproximateNumberOfMessagesVisible",
                {"QueueName": f"dofs-order-reconciler-dlq-{run.stack}"},
                "Maximum",
            )
        },
        60, 1, 1, lambda config: 0,
        "nothing consumes the EventBridge DLQ: one visible message is an invocation EventBridge gave up on",
    ),
}  # fmt: skip


def _function_metric(component: str, metric_name: str) -> MetricsOf:
    def metrics(run: ProgramRun) -> set[MetricKey]:
        return {
            _metric("AWS/Lambda", metric_name, {"FunctionName": h.function_name(component, run.stack)}, "Sum")
        }

    return metrics


for _component in h.FUNCTIONS:
    for _metric_name, _why in (
        ("Errors", "invocations that raised or timed out, in two 5-minute periods running"),
        ("Throttles", "throttles that persist two 5-minute periods, past what callers' retries absorb"),
    ):
        EXPECTED[f"{_component}-{_metric_name.lower()}"] = Expected(
            _function_metric(_component, _metric_name), 300, 2, 2, lambda config: 0, _why
        )
# STANDARD only: the safety net's rule and its DLQ
EXECUTION_ENDED = "execution-ended-undelivered"
EXPECTED[EXECUTION_ENDED] = Expected(
    lambda run: {
        _metric(
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            {"QueueName": f"dofs-order-execution-ended-dlq-{run.stack}"},
            "Maximum",
        )
    },
    60, 1, 1, lambda config: 0,
    "a status-change event EventBridge could not deliver to order_storage",
)  # fmt: skip


def _alarms(run: ProgramRun) -> dict[str, RecordedResource]:
    prefix, suffix = "dofs-", f"-{run.stack}"
    alarms = {}
    for alarm in run.of_type(h.METRIC_ALARM):
        name = alarm.inputs["name"]
        assert name.startswith(prefix) and name.endswith(suffix), name
        alarms[name.removeprefix(prefix).removesuffix(suffix)] = alarm
    return alarms


def _metrics_of(alarm: RecordedResource) -> set[MetricKey]:
    return {
        _metric(m["namespace"], m["metricName"], m["dimensions"], m["stat"])
        for m in (q["metric"] for q in alarm.inputs["metricQueries"] if "metric" in q)
    }


def test_the_stacks_have_exactly_the_expected_alarms(dev_run: ProgramRun, prod_run: ProgramRun) -> None:
    assert set(_alarms(dev_run)) == set(EXPECTED)
    assert set(_alarms(prod_run)) == set(EXPECTED) - {EXECUTION_ENDED}  # EXPRESS: no safety net


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_alarm_definition(key: str, stack_run: ProgramRun, config: h.StackConfig) -> None:
    expected = EXPECTED[key]
    alarms = _alarms(stack_run)
    if key == EXECUTION_ENDED and stack_run.stack == "prod":
        assert key not in alarms  # EXPRESS emits no status events, so there is no rule to watch
        return
    alarm = alarms[key]
    assert expected.why and alarm.inputs["alarmDescription"], key
    assert _metrics_of(alarm) == expected.metrics(stack_run)
    assert {q["metric"]["period"] for q in alarm.inputs["metricQueries"] if "metric" in q} == {
        expected.period
    }
    assert alarm.inputs["evaluationPeriods"] == expected.evaluation_periods
    assert alarm.inputs["datapointsToAlarm"] == expected.datapoints_to_alarm
    assert alarm.inputs["threshold"] == expected.threshold(config)
    assert alarm.inputs["comparisonOperator"] == "GreaterThanThreshold"
    # Every alarm watches something that sends no data when all is idle: not breaching.
    assert alarm.inputs["treatMissingData"] == "notBreaching"
    returning = [q for q in alarm.inputs["metricQueries"] if q.get("returnData")]
    assert len(returning) == 1, "an alarm evaluates exactly one series"


def test_every_alarm_notifies_the_alerts_topic_on_alarm_and_on_ok(stack_run: ProgramRun) -> None:
    topic_arn = h.only(stack_run, h.TOPIC).outputs["arn"]
    for name, alarm in _alarms(stack_run).items():
        assert alarm.inputs["alarmActions"] == [topic_arn], name
        assert alarm.inputs["okActions"] == [topic_arn], name


def test_no_alarm_watches_the_age_of_the_dlq(stack_run: ProgramRun) -> None:
    """SQS leaves a message received three or more times out of the age: such an alarm never fires."""
    dlq = h.dead_letter_queue(stack_run).inputs["name"]
    for alarm in stack_run.of_type(h.METRIC_ALARM):
        for _namespace, name, dimensions, _stat in _metrics_of(alarm):
            assert not (name == "ApproximateAgeOfOldestMessage" and ("QueueName", dlq) in dimensions)


# --- the metric math, evaluated -----------------------------------------------------------


def evaluate(alarm: RecordedResource, minute: Mapping[str, float | None]) -> Decimal | None:
    """The value the alarm's expression gives for one period, where ``minute`` maps each
    metric id to its datapoint (None: no data). Supports what the alarms use: FILL, IF,
    + - * / and comparisons; a division by zero gives infinity, as in CloudWatch."""
    (returned,) = [q for q in alarm.inputs["metricQueries"] if q.get("returnData")]
    if "expression" not in returned:
        value = minute[returned["id"]]
        return None if value is None else Decimal(str(value))
    values = {key: None if v is None else Decimal(str(v)) for key, v in minute.items()}

    def fill(value: Decimal | None, default: int) -> Decimal:
        return Decimal(default) if value is None else value

    def if_(condition: bool, then: Decimal, otherwise: Decimal) -> Decimal:
        return then if condition else otherwise

    expression = re.sub(r"\bIF\(", "if_(", returned["expression"]).replace("FILL(", "fill(")
    with decimal.localcontext() as context:
        context.traps[decimal.DivisionByZero] = False
        context.traps[decimal.InvalidOperation] = False
        result: Decimal = eval(expression, {"fill": fill, "if_": if_, "__builtins__": {}}, values)
    return result


def _breaches(alarm: RecordedResource, minute: Mapping[str, float | None]) -> bool:
    value = evaluate(alarm, minute)
    return value is not None and value > Decimal(str(alarm.inputs["threshold"]))


NO_FAILURES: dict[str, float | None] = {
    "failed_validation": None,
    "failed_workflow": None,
    "failed_fulfillment": None,
}


def test_the_failure_ratio_ignores_one_failure_of_one_and_fires_on_many(dev_run: ProgramRun) -> None:
    alarm = _alarms(dev_run)["fulfillment-failure-ratio"]
    assert not _breaches(alarm, {**NO_FAILURES, "failed_fulfillment": 1, "fulfilled": None})
    assert not _breaches(alarm, {**NO_FAILURES, "failed_fulfillment": 2, "fulfilled": 98})
    assert _breaches(alarm, {**NO_FAILURES, "failed_fulfillment": 20, "failed_workflow": 10, "fulfilled": 70})
    assert not _breaches(alarm, {**NO_FAILURES, "fulfilled": None})  # an idle period


def test_orders_failed_adds_every_stage(dev_run: ProgramRun) -> None:
    alarm = _alarms(dev_run)["orders-failed"]
    assert evaluate(alarm, {"failed_validation": None, "failed_workflow": 4, "failed_fulfillment": 7}) == 11
    assert _breaches(alarm, {"failed_validation": None, "failed_workflow": 4, "failed_fulfillment": 7})
    assert not _breaches(alarm, {**NO_FAILURES, "failed_fulfillment": 3})


def test_the_5xx_ratio_needs_volume_and_allows_a_few_503s(dev_run: ProgramRun) -> None:
    alarm = _alarms(dev_run)["api-5xx-ratio"]
    assert not _breaches(alarm, {"errors_5xx": 1, "requests": 1})
    assert not _breaches(alarm, {"errors_5xx": 0, "requests": 0})
    assert not _breaches(alarm, {"errors_5xx": 2, "requests": 100})
    assert _breaches(alarm, {"errors_5xx": 30, "requests": 100})


def test_the_dlq_alarm_counts_a_message_in_flight(dev_run: ProgramRun) -> None:
    """A message dlq_processor keeps failing is in flight between receives, not visible."""
    alarm = _alarms(dev_run)["order-dlq-not-drained"]
    assert _breaches(alarm, {"visible": 0, "in_flight": 1})
    assert _breaches(alarm, {"visible": 1, "in_flight": None})
    assert not _breaches(alarm, {"visible": 0, "in_flight": 0})


def test_workflow_failures_count_timeouts_and_aborts_too(dev_run: ProgramRun) -> None:
    alarm = _alarms(dev_run)["workflow-failures"]
    assert _breaches(alarm, {"failed": None, "timed_out": 1, "aborted": None})
    assert _breaches(alarm, {"failed": None, "timed_out": None, "aborted": 1})
    assert not _breaches(alarm, {"failed": 0, "timed_out": None, "aborted": None})
