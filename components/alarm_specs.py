"""Every alarm of a stack, as data: what it watches, the case it catches, and why each of
its numbers is what it is (``why``). ``OrderAlarms`` (components/alarms.py) creates them.

Sources for the AWS metric behaviour the choices rest on:
- SQS: ApproximateAgeOfOldestMessage leaves out a message received three or more times,
  and the queue metrics come once a minute (SQS Developer Guide, "Available CloudWatch
  metrics for Amazon SQS"); a message a Lambda consumer keeps failing is in flight
  (NotVisible) most of the time, visible only between its visibility timeout and the
  poller's next receive.
- Lambda: Errors counts invocations that raised or timed out, not batch item failures
  (Lambda Developer Guide, "Types of metrics for Lambda functions").
- API Gateway: 5XXError and Count per ApiName and Stage; 5XXError's Sum over Count's Sum
  is the share of 5xx answers (API Gateway Developer Guide, "Amazon API Gateway dimensions
  and metrics").
- Step Functions: ExecutionsFailed, ExecutionsTimedOut and ExecutionsAborted per
  StateMachineArn, for STANDARD and EXPRESS (Step Functions Developer Guide, "Metrics
  for Step Functions"). A business rejection ends in a Succeed state
  (components/state_machine.py), so it is none of these.
- Metric math: FILL(m, 0) turns a minute without data into 0, so a sum of series is
  not left missing when one of them has no point; IF(cond, a, b) keeps a ratio at 0 below
  a minimum volume (CloudWatch User Guide, "Using math expressions with CloudWatch metrics").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi

from components.config import StackSettings
from handlers.business_metrics import (
    ACTION_DIMENSION,
    NAMESPACE,
    SERVICE_DIMENSION,
    STAGE_DIMENSION,
    BusinessMetric,
    ReconcilerAction,
    service_name,
)
from handlers.models import FailureStage

MINUTE = 60
FIVE_MINUTES = 300
# Below this many requests or final orders in a period a ratio says nothing (1 of 1 is 100 %).
MIN_API_REQUESTS = 20
MIN_FINAL_ORDERS = 20
API_5XX_PERCENT = 5
API_P99_MILLISECONDS = 2500
FAILED_ORDERS_PER_FIVE_MINUTES = 10
FAILURE_RATIO_PERCENT = 10


@dataclass(frozen=True)
class MetricRef:
    """One metric an alarm reads; ``id`` names it in the alarm's expression."""

    id: str
    namespace: str
    metric_name: str
    dimensions: Mapping[str, pulumi.Input[str]]
    stat: str  # Sum, Maximum, or a percentile such as p99


@dataclass(frozen=True)
class AlarmSpec:
    key: str  # the alarm is dofs-<key>-<stack>
    catches: str  # the case it fires in (its description)
    why: str  # why this metric, statistic, period, threshold and missing-data treatment
    metrics: tuple[MetricRef, ...]
    expression: str | None  # metric math over the metrics' ids; None: the single metric itself
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    comparison: str = "GreaterThanThreshold"
    treat_missing_data: str = "notBreaching"


@dataclass(frozen=True)
class AlarmTargets:
    """The names of what the alarms watch, from the components that create it."""

    settings: StackSettings
    order_queue_name: pulumi.Input[str]
    dead_letter_queue_name: pulumi.Input[str]
    api_name: pulumi.Input[str]
    api_stage: pulumi.Input[str]
    state_machine_arn: pulumi.Input[str]
    function_names: Mapping[str, pulumi.Input[str]]  # component name (api-handler, ...) -> Lambda name
    event_dead_letter_queues: Mapping[str, pulumi.Input[str]]  # rule key -> queue name


def business_metric(id: str, metric: BusinessMetric, environment: str, stat: str, **extra: str) -> MetricRef:
    """A metric of handlers/business_metrics.py with its full dimension set."""
    return MetricRef(id, NAMESPACE, metric, {SERVICE_DIMENSION: service_name(environment), **extra}, stat)


def failed_orders(environment: str) -> list[MetricRef]:
    """OrdersFailed, one series per stage (an alarm must name every dimension)."""
    return [
        business_metric(
            f"failed_{stage}", BusinessMetric.ORDERS_FAILED, environment, "Sum", **{STAGE_DIMENSION: stage}
        )
        for stage in FailureStage
    ]


def filled_sum(metrics: Sequence[MetricRef]) -> str:
    return " + ".join(f"FILL({m.id}, 0)" for m in metrics)


def order_queue_age_threshold(settings: StackSettings) -> int:
    """A healthy message is counted in the age while received at most twice: it may then be
    two visibility timeouts old. A minute on top is a consumer that is not receiving."""
    return 2 * settings.queue_visibility_seconds(settings.fulfill_timeout_seconds) + MINUTE


def alarm_specs(targets: AlarmTargets) -> list[AlarmSpec]:
    return [
        *_queue_alarms(targets),
        *_order_alarms(targets.settings.environment),
        *_api_alarms(targets),
        _workflow_alarm(targets),
        _reconciler_alarm(targets.settings.environment),
        *_function_alarms(targets),
        *_event_dead_letter_alarms(targets),
    ]


def _sqs(id: str, metric_name: str, queue_name: pulumi.Input[str]) -> MetricRef:
    return MetricRef(id, "AWS/SQS", metric_name, {"QueueName": queue_name}, "Maximum")


def _queue_alarms(targets: AlarmTargets) -> list[AlarmSpec]:
    dlq = targets.dead_letter_queue_name
    in_dlq = (
        _sqs("visible", "ApproximateNumberOfMessagesVisible", dlq),
        _sqs("in_flight", "ApproximateNumberOfMessagesNotVisible", dlq),
    )
    return [
        AlarmSpec(
            key="order-dlq-not-drained",
            catches="Messages stay in the order DLQ: dlq_processor is not recording final failures",
            why=(
                "dlq_processor empties the DLQ within seconds, so a message still there 5 minutes "
                "in a row is one it keeps failing (or cannot reach). Visible plus in flight, "
                "because a failing message is in flight between the poller's receives; not the "
                "age, which leaves out a message received three or more times. Maximum of the "
                "once-a-minute sample; a queue with no traffic sends no data: not breaching."
            ),
            metrics=in_dlq,
            expression=filled_sum(in_dlq),
            period=MINUTE,
            evaluation_periods=5,
            datapoints_to_alarm=5,
            threshold=0,
        ),
        AlarmSpec(
            key="order-queue-stalled",
            catches="The oldest message on the order queue is too old: fulfill_order is not consuming",
            why=(
                "A healthy message is counted in the age while received at most twice (SQS "
                "leaves out the rest), so it is at most two visibility timeouts old; older "
                "for 3 minutes running means nothing receives. Maximum, as the oldest "
                "message is what waits; no data is an idle queue: not breaching."
            ),
            metrics=(_sqs("age", "ApproximateAgeOfOldestMessage", targets.order_queue_name),),
            expression=None,
            period=MINUTE,
            evaluation_periods=3,
            datapoints_to_alarm=3,
            threshold=order_queue_age_threshold(targets.settings),
        ),
    ]


def _order_alarms(environment: str) -> list[AlarmSpec]:
    failed = failed_orders(environment)
    fulfilled = business_metric("fulfilled", BusinessMetric.ORDERS_FULFILLED, environment, "Sum")
    failed_sum = filled_sum(failed)
    final = f"({failed_sum} + FILL(fulfilled, 0))"
    return [
        AlarmSpec(
            key="orders-failed",
            catches="Many orders ended FULFILLMENT_FAILED in 5 minutes",
            why=(
                "OrdersFailed summed over every stage (each series named with its full "
                "dimension set, service and stage). A few final failures are the simulated "
                "fulfillment's normal share; more than "
                f"{FAILED_ORDERS_PER_FIVE_MINUTES} in 5 minutes is an outage even at low "
                "volume, where the ratio alarm stays quiet. No orders: no data: not breaching."
            ),
            metrics=tuple(failed),
            expression=failed_sum,
            period=FIVE_MINUTES,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            threshold=FAILED_ORDERS_PER_FIVE_MINUTES,
        ),
        AlarmSpec(
            key="fulfillment-failure-ratio",
            catches="A large share of the orders that ended, ended FULFILLMENT_FAILED",
            why=(
                "Failed over failed plus fulfilled, in percent, over two 5-minute periods in a "
                f"row; counted only from {MIN_FINAL_ORDERS} final orders a period, so 1 failure "
                f"of 1 order does not page. {FAILURE_RATIO_PERCENT} % is well above what the "
                "simulated success rate and the redeliveries leave (under 3 % in dev)."
            ),
            metrics=(*failed, fulfilled),
            expression=f"IF({final} >= {MIN_FINAL_ORDERS}, 100 * ({failed_sum}) / {final}, 0)",
            period=FIVE_MINUTES,
            evaluation_periods=2,
            datapoints_to_alarm=2,
            threshold=FAILURE_RATIO_PERCENT,
        ),
    ]


def _api_alarms(targets: AlarmTargets) -> list[AlarmSpec]:
    api = {"ApiName": targets.api_name, "Stage": targets.api_stage}
    errors = MetricRef("errors_5xx", "AWS/ApiGateway", "5XXError", api, "Sum")
    requests = MetricRef("requests", "AWS/ApiGateway", "Count", api, "Sum")
    return [
        AlarmSpec(
            key="api-5xx-ratio",
            catches="The API answers 5xx to a large share of requests",
            why=(
                "5XXError's Sum over Count's Sum, in percent, per ApiName and Stage, over two "
                f"5-minute periods in a row; from {MIN_API_REQUESTS} requests a period, so one "
                f"failed request of one does not page. {API_5XX_PERCENT} % allows the 503s the "
                "API gives while storage is throttled."
            ),
            metrics=(errors, requests),
            expression=(
                f"IF(FILL(requests, 0) >= {MIN_API_REQUESTS}, 100 * FILL(errors_5xx, 0) / requests, 0)"
            ),
            period=FIVE_MINUTES,
            evaluation_periods=2,
            datapoints_to_alarm=2,
            threshold=API_5XX_PERCENT,
        ),
        AlarmSpec(
            key="api-latency-p99",
            catches="The API's slowest 1 % of requests take too long",
            why=(
                "Latency p99 per ApiName and Stage over 5 minutes, 3 periods in a row: one "
                "write and one StartExecution answer in well under a second, and cold starts "
                f"are rare; above {API_P99_MILLISECONDS} ms for 15 minutes a dependency is slow. "
                "No requests: no data: not breaching."
            ),
            metrics=(MetricRef("latency", "AWS/ApiGateway", "Latency", api, "p99"),),
            expression=None,
            period=FIVE_MINUTES,
            evaluation_periods=3,
            datapoints_to_alarm=3,
            threshold=API_P99_MILLISECONDS,
        ),
    ]


def _workflow_alarm(targets: AlarmTargets) -> AlarmSpec:
    machine = {"StateMachineArn": targets.state_machine_arn}
    ended_badly = tuple(
        MetricRef(id, "AWS/States", name, machine, "Sum")
        for id, name in (
            ("failed", "ExecutionsFailed"),
            ("timed_out", "ExecutionsTimedOut"),
            ("aborted", "ExecutionsAborted"),
        )
    )
    return AlarmSpec(
        key="workflow-failures",
        catches="Workflow executions failed, timed out or were aborted (not business rejections)",
        why=(
            "A rejection ends in a Succeed state, so every failed, timed-out or aborted "
            "execution is a fault: a step failed past its retries (the order is FULFILLMENT_FAILED "
            "with stage workflow) or the execution ended outside any Catch. Sum of the three "
            "over 5 minutes, any one fires; the same metrics exist for EXPRESS. No executions: "
            "not breaching."
        ),
        metrics=ended_badly,
        expression=filled_sum(ended_badly),
        period=FIVE_MINUTES,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        threshold=0,
    )


def _reconciler_alarm(environment: str) -> AlarmSpec:
    gave_up = business_metric(
        "gave_up",
        BusinessMetric.RECONCILER_ACTIONS,
        environment,
        "Sum",
        **{ACTION_DIMENSION: ReconcilerAction.FAILED.value},
    )
    return AlarmSpec(
        key="reconciler-give-ups",
        catches="The reconciler gave up on orders and recorded them FULFILLMENT_FAILED",
        why=(
            f"ReconcilerActions with action={ReconcilerAction.FAILED.value} (and service): an order stuck "
            "in flight through every reconcile attempt, which a healthy pipeline never leaves. "
            "Any one in 5 minutes fires; no data is a run with nothing to give up: not breaching."
        ),
        metrics=(gave_up,),
        expression=None,
        period=FIVE_MINUTES,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        threshold=0,
    )


# The two alarms every function gets: (Lambda metric, the case it catches, why).
FUNCTION_ALARMS = (
    (
        "Errors",
        "keeps raising or timing out",
        (
            "Errors counts invocations that raised or timed out (batch item failures "
            "are not errors). Sum over 5 minutes, two periods in a row: a lone "
            "transient error is retried by its caller, errors that persist are a "
            "fault. No invocations: not breaching."
        ),
    ),
    (
        "Throttles",
        "is throttled: it hit a concurrency limit",
        (
            "Throttles summed over 5 minutes, two periods in a row: callers retry a "
            "throttle, so a short burst is absorbed, but throttles that persist delay "
            "orders. No invocations: not breaching."
        ),
    ),
)


def _function_alarms(targets: AlarmTargets) -> list[AlarmSpec]:
    """Each function's Errors and Throttles alarms, alike but for the metric and the reason."""
    return [
        AlarmSpec(
            key=f"{component}-{metric.lower()}",
            catches=f"dofs-{component} {catches}",
            why=why,
            metrics=(
                MetricRef(metric.lower(), "AWS/Lambda", metric, {"FunctionName": function_name}, "Sum"),
            ),
            expression=None,
            period=FIVE_MINUTES,
            evaluation_periods=2,
            datapoints_to_alarm=2,
            threshold=0,
        )
        for component, function_name in targets.function_names.items()
        for metric, catches, why in FUNCTION_ALARMS
    ]


def _event_dead_letter_alarms(targets: AlarmTargets) -> list[AlarmSpec]:
    return [
        AlarmSpec(
            key=f"{rule}-undelivered",
            catches=f"EventBridge could not deliver an event of the {rule} rule to its target",
            why=(
                "An event lands in this DLQ only after EventBridge's retries failed, and "
                "nothing consumes it, so one visible message is a lost invocation. Maximum "
                "over a minute, any one fires; an empty queue may send no data: not breaching."
            ),
            metrics=(_sqs("undelivered", "ApproximateNumberOfMessagesVisible", queue_name),),
            expression=None,
            period=MINUTE,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            threshold=0,
        )
        for rule, queue_name in targets.event_dead_letter_queues.items()
    ]
