"""OrderReconciler: the scheduled function that drives on orders stuck in a non-terminal state.

Nothing lost, nothing doubled: on a schedule, the reconciler finds through the orders
table's in-flight index the orders whose deadline (``due_at``) has passed while they sat
RECEIVED or PENDING_FULFILLMENT (a workflow that never started, timed out or could not
record its failure; an enqueue that failed) and drives them on again: it starts their
execution or re-enqueues them, and after ``reconcileMaxAttempts`` records them as failed.
It reads only the orders themselves, never an execution's status, so it works the same
for STANDARD and EXPRESS workflows. PENDING_FULFILLMENT is due only past every redelivery
the queue and its DLQ make (``StackSettings.pending_stuck_after_seconds``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.config import StackSettings
from components.event_dead_letters import event_target_dead_letter_queue
from components.iam import allow
from components.order_tables import OrderTables
from components.python_function import LambdaPackage, PythonFunction, PythonFunctionArgs
from handlers import settings as env

# Under the schedule's shortest period (1 minute), so runs rarely overlap; overlapping
# runs are safe anyway: every status change is a conditional write, an execution is
# named after its order, and fulfillment is idempotent per order.
RECONCILER_TIMEOUT_SECONDS = 50


@dataclass
class OrderReconcilerArgs:
    settings: StackSettings
    tables: OrderTables
    queue_url: pulumi.Input[str]
    queue_arn: pulumi.Input[str]
    state_machine_arn: pulumi.Input[str]
    package: LambdaPackage


class OrderReconciler(pulumi.ComponentResource):
    function: PythonFunction
    schedule: aws.cloudwatch.EventRule
    dead_letter_queue: aws.sqs.Queue

    def __init__(
        self, name: str, args: OrderReconcilerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("dofs:index:OrderReconciler", name, None, opts)
        settings = args.settings
        envname = settings.environment
        child = pulumi.ResourceOptions(parent=self)
        orders, failed = args.tables.orders, args.tables.failed_orders

        self.function = PythonFunction(
            "reconciler",
            PythonFunctionArgs(
                function_name=f"dofs-reconciler-{envname}",
                handler="handlers.reconciler.handler",
                description="Drives on orders stuck in a non-terminal state",
                package=args.package,
                settings=settings,
                timeout_seconds=RECONCILER_TIMEOUT_SECONDS,
                environment={
                    env.ORDERS_TABLE_NAME: orders.name,
                    env.FAILED_ORDERS_TABLE_NAME: failed.name,
                    env.STEP_FUNCTION_ARN: args.state_machine_arn,
                    env.ORDER_QUEUE_URL: args.queue_url,
                    env.RECONCILE_RECEIVED_AFTER_SECONDS: str(settings.received_stuck_after_seconds()),
                    env.RECONCILE_PENDING_AFTER_SECONDS: str(settings.pending_stuck_after_seconds()),
                    env.RECONCILE_MAX_ATTEMPTS: str(settings.reconcile_max_attempts),
                },
                statements=[
                    allow(["dynamodb:Query"], [args.tables.orders_in_flight_index_arn]),
                    allow(["dynamodb:GetItem", "dynamodb:UpdateItem"], [orders.arn]),
                    allow(["dynamodb:PutItem", "dynamodb:DeleteItem"], [failed.arn]),
                    allow(["states:StartExecution"], [args.state_machine_arn]),
                    allow(["sqs:SendMessage", "sqs:GetQueueAttributes"], [args.queue_arn]),
                ],
            ),
            opts=child,
        )
        self.schedule = aws.cloudwatch.EventRule(
            "reconcile-schedule",
            name=f"dofs-order-reconciler-{envname}",
            description="Runs the reconciler, which drives on orders stuck in a non-terminal state",
            schedule_expression=settings.reconcile_schedule,
            opts=child,
        )
        self.dead_letter_queue = event_target_dead_letter_queue(
            "reconcile-schedule-dlq",
            queue_name=f"dofs-order-reconciler-dlq-{envname}",
            rule=self.schedule,
            settings=settings,
            parent=self,
        )
        # The rule's ARN names this account, so source_arn alone scopes the permission.
        permission = aws.lambda_.Permission(
            "reconciler-invoke-permission",
            action="lambda:InvokeFunction",
            function=self.function.function.name,
            principal="events.amazonaws.com",
            source_arn=self.schedule.arn,
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            "reconciler-target",
            rule=self.schedule.name,
            arn=self.function.function.arn,
            dead_letter_config={"arn": self.dead_letter_queue.arn},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission]),
        )
        self.register_outputs(
            {"function_name": self.function.function.name, "schedule_rule_name": self.schedule.name}
        )
