"""The stack's dashboard, and the one rule that keeps it and the alarms honest: every
metric they name is one a handler emits (handlers/business_metrics.py, with exactly its
dimension set) or one AWS publishes for that resource, with that resource's dimensions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from handlers.business_metrics import NAMESPACE, SERVICE_DIMENSION, SHAPES, ReconcilerAction
from handlers.models import FailureStage
from local.recorded_program import ProgramRun
from tests.infra import helpers as h

# What AWS publishes, per namespace: the metric names DOFS reads and the dimension set that
# selects one resource. Sources:
# - AWS/SQS: SQS Developer Guide, "Available CloudWatch metrics for Amazon SQS"
#   (docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html)
# - AWS/Lambda: Lambda Developer Guide, "Types of metrics for Lambda functions"
#   (docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html)
# - AWS/ApiGateway: API Gateway Developer Guide, "Amazon API Gateway dimensions and metrics"
#   (docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-metrics-and-dimensions.html)
# - AWS/States: Step Functions Developer Guide, "Metrics for Step Functions"
#   (docs.aws.amazon.com/step-functions/latest/dg/procedure-cw-metrics.html)
AWS_PUBLISHED: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "AWS/SQS": (
        frozenset(
            {
                "ApproximateAgeOfOldestMessage",
                "ApproximateNumberOfMessagesDelayed",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesVisible",
                "NumberOfMessagesDeleted",
                "NumberOfMessagesReceived",
                "NumberOfMessagesSent",
            }
        ),
        frozenset({"QueueName"}),
    ),
    "AWS/Lambda": (
        frozenset({"ConcurrentExecutions", "Duration", "Errors", "Invocations", "Throttles"}),
        frozenset({"FunctionName"}),
    ),
    "AWS/ApiGateway": (
        frozenset({"4XXError", "5XXError", "Count", "IntegrationLatency", "Latency"}),
        frozenset({"ApiName", "Stage"}),
    ),
    "AWS/States": (
        frozenset(
            {
                "ExecutionsAborted",
                "ExecutionsFailed",
                "ExecutionsStarted",
                "ExecutionsSucceeded",
                "ExecutionsTimedOut",
                "ExecutionThrottled",
            }
        ),
        frozenset({"StateMachineArn"}),
    ),
}

Named = tuple[str, str, dict[str, str]]  # namespace, metric name, dimensions


def _body(run: ProgramRun) -> dict[str, Any]:
    dashboard = h.only(run, h.DASHBOARD)
    assert dashboard.inputs["dashboardName"] == f"dofs-{run.stack}"
    body: dict[str, Any] = json.loads(dashboard.inputs["dashboardBody"])
    return body


def _dashboard_metrics_of(widget: dict[str, Any]) -> Iterator[Named]:
    for entry in widget["properties"]["metrics"]:
        namespace, name, *pairs = [part for part in entry if not isinstance(part, dict)]
        yield namespace, name, dict(zip(pairs[::2], pairs[1::2], strict=True))


def _dashboard_metrics(run: ProgramRun) -> Iterator[Named]:
    for widget in _body(run)["widgets"]:
        yield from _dashboard_metrics_of(widget)


def _alarm_metrics(run: ProgramRun) -> Iterator[Named]:
    for alarm in run.of_type(h.METRIC_ALARM):
        for query in alarm.inputs["metricQueries"]:
            if "metric" in query:
                metric = query["metric"]
                yield metric["namespace"], metric["metricName"], dict(metric["dimensions"])


def _resource_values(run: ProgramRun) -> dict[str, set[str]]:
    """The dimension values that select one of this stack's resources."""
    return {
        "QueueName": {q.inputs["name"] for q in run.of_type(h.QUEUE)},
        "FunctionName": {f.inputs["name"] for f in run.of_type(h.FUNCTION)},
        "ApiName": {h.only(run, h.REST_API).inputs["name"]},
        "Stage": {run.stack},
        "StateMachineArn": {h.state_machine(run).outputs["arn"]},
        SERVICE_DIMENSION: {f"dofs-{run.stack}"},
        "stage": {stage.value for stage in FailureStage},
        "action": {action.value for action in ReconcilerAction},
    }


def _problem(run: ProgramRun, metric: Named) -> str | None:
    namespace, name, dimensions = metric
    if namespace == NAMESPACE:
        shapes = {str(m): s for m, s in SHAPES.items()}
        if name not in shapes:
            return "not a metric any handler emits"
        expected = {SERVICE_DIMENSION, *shapes[name].extra_dimensions}
        if set(dimensions) != expected:
            return f"emitted with dimensions {sorted(expected)}, named with {sorted(dimensions)}"
    elif namespace in AWS_PUBLISHED:
        names, dimension_set = AWS_PUBLISHED[namespace]
        if name not in names:
            return f"not a metric AWS publishes in {namespace}"
        if set(dimensions) != dimension_set:
            return f"{namespace} selects a resource by {sorted(dimension_set)}, not {sorted(dimensions)}"
    else:
        return "unknown namespace"
    values = _resource_values(run)
    for key, value in dimensions.items():
        if value not in values[key]:
            return f"{key}={value} is none of this stack's"
    return None


def test_every_metric_of_the_dashboard_and_the_alarms_exists(stack_run: ProgramRun) -> None:
    named = [*_dashboard_metrics(stack_run), *_alarm_metrics(stack_run)]
    assert len(named) > 30
    problems = {f"{m[0]} {m[1]} {m[2]}": p for m in named if (p := _problem(stack_run, m))}
    assert problems == {}


def test_the_catalog_check_refuses_a_wrong_dimension_set(dev_run: ProgramRun) -> None:
    """The rule above can fail: OrdersFailed without its stage, a made-up SQS metric."""
    service = {SERVICE_DIMENSION: "dofs-dev"}
    assert _problem(dev_run, (NAMESPACE, "OrdersFailed", service)) is not None
    assert _problem(dev_run, (NAMESPACE, "OrdersLost", service)) is not None
    queue = {"QueueName": "dofs-order-queue-dev"}
    assert _problem(dev_run, ("AWS/SQS", "ApproximateAgeOfNewestMessage", queue)) is not None
    assert _problem(dev_run, ("AWS/SQS", "ApproximateAgeOfOldestMessage", {"QueueName": "other"})) is not None
    assert _problem(dev_run, ("AWS/SQS", "ApproximateAgeOfOldestMessage", queue)) is None


def test_the_dashboard_reads_the_pipeline_left_to_right(stack_run: ProgramRun) -> None:
    widgets = _body(stack_run)["widgets"]
    titles = [w["properties"]["title"] for w in widgets]
    assert titles == [
        "Orders per minute: accepted, fulfilled, failed",
        "Order latency, 202 to final (ms)",
        "Order queue and DLQ",
        "Errors and throttles per function",
        "Reconciler actions",
    ]
    # Reading order (row by row, left to right) is the pipeline's order, within 24 columns.
    positions = [(w["y"], w["x"]) for w in widgets]
    assert positions == sorted(positions)
    assert all(w["x"] + w["width"] <= 24 for w in widgets)


def test_the_dashboard_shows_what_issue_12_lists(stack_run: ProgramRun) -> None:
    widgets = _body(stack_run)["widgets"]
    per_widget = [{(m[0], m[1]) for m in _dashboard_metrics_of(widget)} for widget in widgets]
    assert {
        (NAMESPACE, "OrdersAccepted"),
        (NAMESPACE, "OrdersFulfilled"),
        (NAMESPACE, "OrdersFailed"),
    } <= per_widget[0]
    latency = widgets[1]["properties"]["metrics"]
    assert {entry[-1]["stat"] for entry in latency} == {"p50", "p99"}
    assert {
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("AWS/SQS", "ApproximateAgeOfOldestMessage"),
    } <= per_widget[2]
    functions = {m[2]["FunctionName"] for m in _dashboard_metrics_of(widgets[3])}
    assert functions == {f.inputs["name"] for f in stack_run.of_type(h.FUNCTION)}
    actions = {m[2]["action"] for m in _dashboard_metrics_of(widgets[4])}
    assert actions == {action.value for action in ReconcilerAction}
