"""The DOFS stack: tables, queue, workflow, reconciler and API wired together, and traced."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.config import LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME, StackSettings
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

    def outputs(self) -> dict[str, pulumi.Input[str]]:
        return {
            "api_url": self.api.api_url,
            "orders_table_name": self.tables.orders.name,
            "failed_orders_table_name": self.tables.failed_orders.name,
            "order_queue_url": self.queue.queue.url,
            "order_dlq_url": self.queue.dead_letter_queue.url,
            "state_machine_arn": self.workflow.state_machine.arn,
        }


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
    return Dofs(
        tables=tables,
        queue=queue,
        workflow=workflow,
        reconciler=reconciler,
        api=api,
        trace_sampling=trace_sampling,
    )
