"""FulfillmentQueue: the order queue, its DLQ, and the two functions that drain them.

The alarms that watch them are in components/alarm_specs.py."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.config import StackSettings
from components.iam import allow
from components.order_tables import OrderTables
from components.python_function import LambdaPackage, PythonFunction, PythonFunctionArgs
from handlers import settings as env

# How long AWS keeps a message: the queue a few days, the DLQ its maximum for triage.
ORDER_QUEUE_RETENTION_SECONDS = 4 * 24 * 3600
DLQ_RETENTION_SECONDS = 14 * 24 * 3600
CONSUME_ACTIONS = [
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ReceiveMessage",
]


@dataclass
class FulfillmentQueueArgs:
    settings: StackSettings
    tables: OrderTables
    package: LambdaPackage


class FulfillmentQueue(pulumi.ComponentResource):
    queue: aws.sqs.Queue
    dead_letter_queue: aws.sqs.Queue
    fulfill_order: PythonFunction
    dlq_processor: PythonFunction

    def __init__(
        self, name: str, args: FulfillmentQueueArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("dofs:index:FulfillmentQueue", name, None, opts)
        settings = args.settings
        envname = settings.environment
        child = pulumi.ResourceOptions(parent=self)
        # Like the tables: with protectData, neither queue goes with a destroy or a refactor.
        kept = pulumi.ResourceOptions(parent=self, protect=settings.protect_data)

        self.dead_letter_queue = aws.sqs.Queue(
            "order-dlq",
            name=f"dofs-order-dlq-{envname}",
            message_retention_seconds=DLQ_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            visibility_timeout_seconds=settings.queue_visibility_seconds(settings.lambda_timeout_seconds),
            opts=kept,
        )
        self.queue = aws.sqs.Queue(
            "order-queue",
            name=f"dofs-order-queue-{envname}",
            message_retention_seconds=ORDER_QUEUE_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            visibility_timeout_seconds=settings.queue_visibility_seconds(settings.fulfill_timeout_seconds),
            redrive_policy=self.dead_letter_queue.arn.apply(
                lambda arn: json.dumps(
                    {"deadLetterTargetArn": arn, "maxReceiveCount": settings.max_receive_count}
                )
            ),
            opts=kept,
        )
        aws.sqs.RedriveAllowPolicy(
            "order-dlq-redrive-allow",
            queue_url=self.dead_letter_queue.url,
            redrive_allow_policy=self.queue.arn.apply(
                lambda arn: json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [arn]})
            ),
            opts=child,
        )

        orders, failed = args.tables.orders, args.tables.failed_orders
        self.fulfill_order = PythonFunction(
            "fulfill-order",
            PythonFunctionArgs(
                function_name=f"dofs-fulfill-order-{envname}",
                handler="handlers.fulfill_order.handler",
                description="Simulated fulfillment of queued orders",
                package=args.package,
                settings=settings,
                timeout_seconds=settings.fulfill_timeout_seconds,
                environment={
                    env.ORDERS_TABLE_NAME: orders.name,
                    env.FULFILLMENT_SUCCESS_RATE: str(settings.fulfillment_success_rate),
                },
                statements=[
                    allow(["dynamodb:GetItem", "dynamodb:UpdateItem"], [orders.arn]),
                    allow(CONSUME_ACTIONS, [self.queue.arn]),
                ],
            ),
            opts=child,
        )
        self.dlq_processor = PythonFunction(
            "dlq-processor",
            PythonFunctionArgs(
                function_name=f"dofs-dlq-processor-{envname}",
                handler="handlers.dlq_processor.handler",
                description="Records orders whose fulfillment failed for good",
                package=args.package,
                settings=settings,
                environment={
                    env.ORDERS_TABLE_NAME: orders.name,
                    env.FAILED_ORDERS_TABLE_NAME: failed.name,
                },
                statements=[
                    allow(["dynamodb:GetItem", "dynamodb:UpdateItem"], [orders.arn]),
                    allow(["dynamodb:PutItem"], [failed.arn]),
                    allow(CONSUME_ACTIONS, [self.dead_letter_queue.arn]),
                ],
            ),
            opts=child,
        )
        self._subscribe("fulfill-order-events", self.queue, self.fulfill_order, settings)
        self._subscribe("dlq-processor-events", self.dead_letter_queue, self.dlq_processor, settings)
        self.register_outputs(
            {"queue_url": self.queue.url, "dead_letter_queue_url": self.dead_letter_queue.url}
        )

    def _subscribe(
        self, name: str, queue: aws.sqs.Queue, consumer: PythonFunction, settings: StackSettings
    ) -> aws.lambda_.EventSourceMapping:
        return aws.lambda_.EventSourceMapping(
            name,
            event_source_arn=queue.arn,
            function_name=consumer.function.arn,
            batch_size=settings.fulfillment_batch_size,
            maximum_batching_window_in_seconds=settings.fulfillment_batch_window_seconds,
            function_response_types=["ReportBatchItemFailures"],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[consumer]),
        )
