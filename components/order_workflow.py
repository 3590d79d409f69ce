"""OrderWorkflow: the validator and storage functions and the state machine that runs them."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.config import StackSettings
from components.event_dead_letters import event_target_dead_letter_queue
from components.iam import STEP_FUNCTIONS_XRAY, allow, assume_role_policy_from, policy_document
from components.order_tables import OrderTables
from components.python_function import LambdaPackage, PythonFunction, PythonFunctionArgs
from components.state_machine import build_definition
from handlers import settings as env

# CloudWatch Logs delivery for Step Functions has no resource-level permissions.
LOG_DELIVERY_ACTIONS = [
    "logs:CreateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:DescribeLogGroups",
    "logs:DescribeResourcePolicies",
    "logs:GetLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:UpdateLogDelivery",
]


@dataclass
class OrderWorkflowArgs:
    settings: StackSettings
    tables: OrderTables
    queue_url: pulumi.Input[str]
    queue_arn: pulumi.Input[str]
    package: LambdaPackage
    account_id: pulumi.Input[str]


EXECUTION_ENDED_STATUSES = ["ABORTED", "FAILED", "TIMED_OUT"]
# EventBridge input transformer: the order_storage event for record_workflow_failure.
FAILURE_EVENT_TEMPLATE = (
    '{"operation": "record_workflow_failure", "order_id": <order_id>, "error": <status>, '
    '"cause": "execution <execution_arn> ended <status>"}'
)


class OrderWorkflow(pulumi.ComponentResource):
    validator: PythonFunction
    order_storage: PythonFunction
    state_machine: aws.sfn.StateMachine
    # The safety net's EventBridge DLQ (STANDARD only: EXPRESS emits no status events).
    event_dead_letter_queue: aws.sqs.Queue | None = None

    def __init__(
        self, name: str, args: OrderWorkflowArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("dofs:index:OrderWorkflow", name, None, opts)
        settings = args.settings
        envname = settings.environment
        child = pulumi.ResourceOptions(parent=self)
        orders, failed = args.tables.orders, args.tables.failed_orders

        self.validator = PythonFunction(
            "validator",
            PythonFunctionArgs(
                function_name=f"dofs-validator-{envname}",
                handler="handlers.validator.handler",
                description="Validates an order and lists every reason it is invalid",
                package=args.package,
                settings=settings,
            ),
            opts=child,
        )
        self.order_storage = PythonFunction(
            "order-storage",
            PythonFunctionArgs(
                function_name=f"dofs-order-storage-{envname}",
                handler="handlers.order_storage.handler",
                description="Stores validated orders and records rejections and failures",
                package=args.package,
                settings=settings,
                environment={env.ORDERS_TABLE_NAME: orders.name, env.FAILED_ORDERS_TABLE_NAME: failed.name},
                statements=[
                    allow(["dynamodb:GetItem", "dynamodb:UpdateItem"], [orders.arn]),
                    allow(["dynamodb:PutItem"], [failed.arn]),
                ],
            ),
            opts=child,
        )

        self.log_group = aws.cloudwatch.LogGroup(
            "state-machine-logs",
            name=f"/aws/vendedlogs/states/dofs-order-processing-{envname}",
            retention_in_days=settings.log_retention_days,
            opts=child,
        )
        machine_name = f"dofs-order-processing-{envname}"
        self.role = aws.iam.Role(
            "state-machine-role",
            # Named dofs-*: the CI deploy role may create and pass only such roles (bootstrap/).
            name=f"dofs-order-processing-{envname}",
            # Step Functions sends aws:SourceAccount and aws:SourceArn when it assumes the
            # role (Step Functions Developer Guide, "Cross-service confused deputy prevention").
            assume_role_policy=assume_role_policy_from(
                "states.amazonaws.com",
                source_account=args.account_id,
                source_arn=pulumi.Output.concat(
                    "arn:aws:states:", settings.region, ":", args.account_id, ":stateMachine:", machine_name
                ),
            ),
            description=f"Execution role of dofs-order-processing-{envname}",
            opts=child,
        )
        function_arns = [self.validator.function.arn, self.order_storage.function.arn]
        policy = aws.iam.RolePolicy(
            "state-machine-policy",
            role=self.role.id,
            policy=policy_document(
                [
                    allow(
                        ["lambda:InvokeFunction"],
                        [*function_arns, *(arn.apply(lambda a: f"{a}:*") for arn in function_arns)],
                    ),
                    allow(["sqs:SendMessage"], [args.queue_arn]),
                    allow(LOG_DELIVERY_ACTIONS, ["*"]),
                    STEP_FUNCTIONS_XRAY,
                ]
            ),
            opts=child,
        )
        definition = build_definition(
            validator_arn=self.validator.function.arn,
            order_storage_arn=self.order_storage.function.arn,
            queue_url=args.queue_url,
            timeout_seconds=settings.workflow_timeout_seconds,
        )
        self.state_machine = aws.sfn.StateMachine(
            "order-processing",
            name=machine_name,
            type=settings.workflow_type,
            role_arn=self.role.arn,
            definition=pulumi.Output.json_dumps(definition),
            logging_configuration={
                "level": settings.workflow_log_level,
                "include_execution_data": settings.workflow_log_execution_data,
                "log_destination": self.log_group.arn.apply(lambda arn: f"{arn}:*"),
            },
            tracing_configuration={"enabled": True},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        if settings.workflow_type == "STANDARD":
            self._record_unfinished_executions(settings)
        self.register_outputs(
            {"state_machine_arn": self.state_machine.arn, "state_machine_name": self.state_machine.name}
        )

    def _record_unfinished_executions(self, settings: StackSettings) -> None:
        """Safety net for what the definition's Catch cannot see: a timed-out or aborted
        execution, or an error raised outside any Task. Every STANDARD execution that
        ends badly reaches order_storage, which records the failure unless the order
        already has a terminal state (the call is idempotent). EXPRESS workflows do not
        emit these events, which is one reason STANDARD is the default.
        """
        envname = settings.environment
        child = pulumi.ResourceOptions(parent=self)
        rule = aws.cloudwatch.EventRule(
            "execution-ended",
            name=f"dofs-order-execution-ended-{envname}",
            description="Order executions that ended FAILED, TIMED_OUT or ABORTED",
            event_pattern=pulumi.Output.json_dumps(
                {
                    "source": ["aws.states"],
                    "detail-type": ["Step Functions Execution Status Change"],
                    "detail": {
                        "stateMachineArn": [self.state_machine.arn],
                        "status": EXECUTION_ENDED_STATUSES,
                    },
                }
            ),
            opts=child,
        )
        self.event_dead_letter_queue = event_target_dead_letter_queue(
            "execution-ended-dlq",
            queue_name=f"dofs-order-execution-ended-dlq-{envname}",
            rule=rule,
            settings=settings,
            parent=self,
        )
        # The rule's ARN names this account, so source_arn alone scopes the permission.
        permission = aws.lambda_.Permission(
            "execution-ended-invoke-permission",
            action="lambda:InvokeFunction",
            function=self.order_storage.function.name,
            principal="events.amazonaws.com",
            source_arn=rule.arn,
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            "execution-ended-target",
            rule=rule.name,
            arn=self.order_storage.function.arn,
            input_transformer={
                "input_paths": {
                    "order_id": "$.detail.name",
                    "status": "$.detail.status",
                    "execution_arn": "$.detail.executionArn",
                },
                "input_template": FAILURE_EVENT_TEMPLATE,
            },
            retry_policy={"maximum_event_age_in_seconds": 86400, "maximum_retry_attempts": 185},
            dead_letter_config={"arn": self.event_dead_letter_queue.arn},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission]),
        )
