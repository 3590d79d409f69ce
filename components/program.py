"""The DOFS stack: tables, queue, workflow, reconciler and API wired together, and traced."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.alarm_specs import AlarmTargets
from components.alarms import OrderAlarms, OrderAlarmsArgs
from components.alert_topic import AlertTopic, AlertTopicArgs
from components.config import LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME, StackSettings
from components.dashboard import OrderDashboard, OrderDashboardArgs
from components.fulfillment_queue import FulfillmentQueue, FulfillmentQueueArgs
from components.order_api import OrderApi, OrderApiArgs
from components.order_reconciler import OrderReconciler, OrderReconcilerArgs
from components.order_tables import OrderTables, OrderTablesArgs
from components.order_workflow import OrderWorkflow, OrderWorkflowArgs
from components.packaging import build_handler_archive, build_layer
from components.python_function import LambdaPackage
from components.trace_sampling import TraceSampling, TraceSamplingArgs


@dataclass
class Dofs:
    tables: OrderTables
    queue: FulfillmentQueue
    workflow: OrderWorkflow
    reconciler: OrderReconciler
    api: OrderApi
    trace_sampling: TraceSampling
    alert_topic: AlertTopic
    alarms: OrderAlarms
    dashboard: OrderDashboard

    def outputs(self) -> dict[str, pulumi.Input[Any]]:
        return {
            **self._api_access_outputs(),
            "api_url": self.api.api_url,
            "orders_table_name": self.tables.orders.name,
            "failed_orders_table_name": self.tables.failed_orders.name,
            "order_queue_url": self.queue.queue.url,
            "order_dlq_url": self.queue.dead_letter_queue.url,
            "state_machine_arn": self.workflow.state_machine.arn,
            "alerts_topic_arn": self.alert_topic.topic.arn,
            "dashboard_name": self.dashboard.dashboard.dashboard_name,
        }

    def _api_access_outputs(self) -> dict[str, pulumi.Input[Any]]:
        """api_key: the keys by client (secret); iam: what callers need execute-api:Invoke on."""
        if self.api.api_keys is not None:
            return {"api_keys": self.api.api_keys.values}
        if self.api.settings.api_auth == "iam":
            return {"api_execute_arn": self.api.execute_arn}
        return {}


def create_dofs(settings: StackSettings) -> Dofs:
    code = build_handler_archive()
    layer_archive = build_layer()
    layer = aws.lambda_.LayerVersion(
        "python-dependencies",
        layer_name=f"dofs-python-deps-{settings.environment}",
        description="Powertools for AWS Lambda for the DOFS handlers (arm64, Python 3.12)",
        code=pulumi.FileArchive(layer_archive.project_path),
        source_code_hash=layer_archive.source_code_hash,
        compatible_runtimes=[LAMBDA_RUNTIME],
        compatible_architectures=[LAMBDA_ARCHITECTURE],
    )
    package = LambdaPackage(code=code, layer_arn=layer.arn)

    account_id = aws.get_caller_identity_output().account_id
    tables = OrderTables("order-tables", OrderTablesArgs(settings=settings))
    queue = FulfillmentQueue(
        "fulfillment-queue", FulfillmentQueueArgs(settings=settings, tables=tables, package=package)
    )
    workflow = OrderWorkflow(
        "order-workflow",
        OrderWorkflowArgs(
            settings=settings,
            tables=tables,
            queue_url=queue.queue.url,
            queue_arn=queue.queue.arn,
            package=package,
            account_id=account_id,
        ),
    )
    reconciler = OrderReconciler(
        "order-reconciler",
        OrderReconcilerArgs(
            settings=settings,
            tables=tables,
            queue_url=queue.queue.url,
            queue_arn=queue.queue.arn,
            state_machine_arn=workflow.state_machine.arn,
            package=package,
        ),
    )
    api = OrderApi(
        "order-api",
        OrderApiArgs(
            settings=settings,
            tables=tables,
            state_machine_arn=workflow.state_machine.arn,
            package=package,
        ),
    )
    trace_sampling = TraceSampling(
        "trace-sampling",
        TraceSamplingArgs(
            settings=settings,
            api_service_name=pulumi.Output.concat(api.rest_api.name, "/", api.stage.stage_name),
            workflow_service_name=workflow.state_machine.name,
        ),
    )
    alert_topic = AlertTopic("alert-topic", AlertTopicArgs(settings=settings, account_id=account_id))
    functions = {
        "api-handler": api.handler,
        "validator": workflow.validator,
        "order-storage": workflow.order_storage,
        "fulfill-order": queue.fulfill_order,
        "dlq-processor": queue.dlq_processor,
        "reconciler": reconciler.function,
    }
    function_names = {key: function.function.name for key, function in functions.items()}
    event_dead_letter_queues = {"reconciler-schedule": reconciler.dead_letter_queue.name}
    if workflow.event_dead_letter_queue is not None:
        event_dead_letter_queues["execution-ended"] = workflow.event_dead_letter_queue.name
    alarms = OrderAlarms(
        "order-alarms",
        OrderAlarmsArgs(
            targets=AlarmTargets(
                settings=settings,
                order_queue_name=queue.queue.name,
                dead_letter_queue_name=queue.dead_letter_queue.name,
                api_name=api.rest_api.name,
                api_stage=api.stage.stage_name,
                state_machine_arn=workflow.state_machine.arn,
                function_names=function_names,
                event_dead_letter_queues=event_dead_letter_queues,
            ),
            topic_arn=alert_topic.topic.arn,
        ),
    )
    dashboard = OrderDashboard(
        "order-dashboard",
        OrderDashboardArgs(
            environment=settings.environment,
            region=settings.region,
            order_queue_name=queue.queue.name,
            dead_letter_queue_name=queue.dead_letter_queue.name,
            function_names=function_names,
        ),
    )
    return Dofs(
        tables=tables,
        queue=queue,
        workflow=workflow,
        reconciler=reconciler,
        api=api,
        trace_sampling=trace_sampling,
        alert_topic=alert_topic,
        alarms=alarms,
        dashboard=dashboard,
    )
