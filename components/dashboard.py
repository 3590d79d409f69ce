"""OrderDashboard: one CloudWatch dashboard per stack (``dofs-<stack>``) that shows the
pipeline in reading order, left to right: orders in and out, how long an order takes,
the queues, the functions, the reconciler. The body is data (``pulumi.Output.json_dumps``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.alarm_specs import MINUTE
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

WIDGET_WIDTH = 8
WIDGET_HEIGHT = 6
WIDGETS_PER_ROW = 3  # CloudWatch's grid is 24 units wide

Metric = list[Any]  # CloudWatch's form: [namespace, name, dimension, value, ..., {options}]


@dataclass
class OrderDashboardArgs:
    environment: str
    region: str
    order_queue_name: pulumi.Input[str]
    dead_letter_queue_name: pulumi.Input[str]
    function_names: Mapping[str, pulumi.Input[str]]


def _metric(namespace: str, name: str, dimensions: Mapping[str, pulumi.Input[str]], **options: Any) -> Metric:
    flat: list[Any] = [namespace, name]
    for key, value in dimensions.items():
        flat += [key, value]
    return [*flat, options] if options else flat


def _widget(title: str, metrics: Sequence[Metric], region: str, stat: str) -> dict[str, Any]:
    return {
        "type": "metric",
        "properties": {
            "title": title,
            "region": region,
            "view": "timeSeries",
            "stat": stat,
            "period": MINUTE,
            "metrics": list(metrics),
        },
    }


def dashboard_body(args: OrderDashboardArgs) -> dict[str, Any]:
    service = {SERVICE_DIMENSION: service_name(args.environment)}
    region = args.region
    widgets = [
        _widget(
            "Orders per minute: accepted, fulfilled, failed",
            [
                _metric(NAMESPACE, BusinessMetric.ORDERS_ACCEPTED, service),
                _metric(NAMESPACE, BusinessMetric.ORDERS_FULFILLED, service),
                *(
                    _metric(NAMESPACE, BusinessMetric.ORDERS_FAILED, {**service, STAGE_DIMENSION: stage})
                    for stage in FailureStage
                ),
            ],
            region,
            "Sum",
        ),
        _widget(
            "Order latency, 202 to final (ms)",
            [
                _metric(NAMESPACE, BusinessMetric.ORDER_LATENCY, service, stat="p50", label="p50"),
                _metric(NAMESPACE, BusinessMetric.ORDER_LATENCY, service, stat="p99", label="p99"),
            ],
            region,
            "p50",
        ),
        _widget(
            "Order queue and DLQ",
            [
                _metric(
                    "AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": args.order_queue_name}
                ),
                _metric(
                    "AWS/SQS",
                    "ApproximateAgeOfOldestMessage",
                    {"QueueName": args.order_queue_name},
                    yAxis="right",
                ),
                _metric(
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    {"QueueName": args.dead_letter_queue_name},
                ),
                _metric(
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesNotVisible",
                    {"QueueName": args.dead_letter_queue_name},
                ),
            ],
            region,
            "Maximum",
        ),
        _widget(
            "Errors and throttles per function",
            [
                _metric("AWS/Lambda", metric, {"FunctionName": name})
                for name in args.function_names.values()
                for metric in ("Errors", "Throttles")
            ],
            region,
            "Sum",
        ),
        _widget(
            "Reconciler actions",
            [
                _metric(
                    NAMESPACE, BusinessMetric.RECONCILER_ACTIONS, {**service, ACTION_DIMENSION: action.value}
                )
                for action in ReconcilerAction
            ],
            region,
            "Sum",
        ),
    ]
    for index, widget in enumerate(widgets):
        widget.update(
            x=(index % WIDGETS_PER_ROW) * WIDGET_WIDTH,
            y=(index // WIDGETS_PER_ROW) * WIDGET_HEIGHT,
            width=WIDGET_WIDTH,
            height=WIDGET_HEIGHT,
        )
    return {"widgets": widgets}


class OrderDashboard(pulumi.ComponentResource):
    dashboard: aws.cloudwatch.Dashboard

    def __init__(
        self, name: str, args: OrderDashboardArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("dofs:index:OrderDashboard", name, None, opts)
        self.dashboard = aws.cloudwatch.Dashboard(
            "dashboard",
            dashboard_name=f"dofs-{args.environment}",
            dashboard_body=pulumi.Output.json_dumps(dashboard_body(args)),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"dashboard_name": self.dashboard.dashboard_name})
