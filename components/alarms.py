"""OrderAlarms: one CloudWatch alarm per spec of components/alarm_specs.py, each with the
stack's alerts topic as its alarm and OK action."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.alarm_specs import AlarmSpec, AlarmTargets, MetricRef, alarm_specs


@dataclass
class OrderAlarmsArgs:
    targets: AlarmTargets
    topic_arn: pulumi.Input[str]


def _query(metric: MetricRef, period: int, *, returns: bool) -> aws.cloudwatch.MetricAlarmMetricQueryArgsDict:
    return {
        "id": metric.id,
        "return_data": returns,
        "metric": {
            "namespace": metric.namespace,
            "metric_name": metric.metric_name,
            "dimensions": dict(metric.dimensions),
            "period": period,
            "stat": metric.stat,
        },
    }


def metric_queries(spec: AlarmSpec) -> list[aws.cloudwatch.MetricAlarmMetricQueryArgsDict]:
    """The alarm's metrics and, when it has one, the expression that returns its value."""
    queries = [_query(m, spec.period, returns=spec.expression is None) for m in spec.metrics]
    if spec.expression is not None:
        queries.append({"id": "value", "expression": spec.expression, "label": spec.key, "return_data": True})
    return queries


class OrderAlarms(pulumi.ComponentResource):
    alarms: dict[str, aws.cloudwatch.MetricAlarm]

    def __init__(self, name: str, args: OrderAlarmsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dofs:index:OrderAlarms", name, None, opts)
        envname = args.targets.settings.environment
        self.alarms = {
            spec.key: aws.cloudwatch.MetricAlarm(
                spec.key,
                name=f"dofs-{spec.key}-{envname}",
                alarm_description=spec.catches,
                metric_queries=metric_queries(spec),
                evaluation_periods=spec.evaluation_periods,
                datapoints_to_alarm=spec.datapoints_to_alarm,
                threshold=spec.threshold,
                comparison_operator=spec.comparison,
                treat_missing_data=spec.treat_missing_data,
                alarm_actions=[args.topic_arn],
                ok_actions=[args.topic_arn],
                opts=pulumi.ResourceOptions(parent=self),
            )
            for spec in alarm_specs(args.targets)
        }
        self.register_outputs({"alarm_names": [alarm.name for alarm in self.alarms.values()]})
