"""PythonFunction: one Lambda with its own role, log group and least-privilege policy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.config import LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME, StackSettings
from components.iam import XRAY_WRITE, PolicyStatement, allow, assume_role_policy, policy_document
from components.packaging import BuiltArchive
from handlers import settings as env
from handlers.log_levels import LAMBDA_LEVEL_NAMES, LOG_LEVELS


@dataclass(frozen=True)
class LambdaPackage:
    """The code every DOFS function runs: the handler archive plus the Powertools layer."""

    code: BuiltArchive
    layer_arn: pulumi.Input[str]


@dataclass
class PythonFunctionArgs:
    function_name: str
    handler: str
    package: LambdaPackage
    settings: StackSettings
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    statements: Sequence[PolicyStatement] = ()
    timeout_seconds: int | None = None
    description: str = ""


class PythonFunction(pulumi.ComponentResource):
    function: aws.lambda_.Function
    role: aws.iam.Role
    log_group: aws.cloudwatch.LogGroup

    def __init__(
        self, name: str, args: PythonFunctionArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("dofs:index:PythonFunction", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings = args.settings

        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/lambda/{args.function_name}",
            retention_in_days=settings.log_retention_days,
            opts=child,
        )
        self.role = aws.iam.Role(
            f"{name}-role",
            # Named dofs-*: the CI deploy role may create and pass only such roles (bootstrap/).
            name=args.function_name,
            assume_role_policy=assume_role_policy("lambda.amazonaws.com"),
            description=f"Execution role of {args.function_name}",
            opts=child,
        )
        log_writes = allow(
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            [self.log_group.arn.apply(lambda arn: f"{arn}:*")],
        )
        policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=self.role.id,
            policy=policy_document([log_writes, XRAY_WRITE, *args.statements]),
            opts=child,
        )
        self.function = aws.lambda_.Function(
            name,
            name=args.function_name,
            description=args.description,
            role=self.role.arn,
            runtime=LAMBDA_RUNTIME,
            architectures=[LAMBDA_ARCHITECTURE],
            handler=args.handler,
            code=pulumi.FileArchive(args.package.code.project_path),
            source_code_hash=args.package.code.source_code_hash,
            layers=[args.package.layer_arn],
            memory_size=settings.lambda_memory_mb,
            timeout=args.timeout_seconds or settings.lambda_timeout_seconds,
            environment={
                "variables": {
                    "ENVIRONMENT": settings.environment,
                    env.LOG_LEVEL: settings.log_level,
                    **args.environment,
                }
            },
            tracing_config={"mode": "Active"},
            # JSON: Lambda filters each line by its level (handlers.log_levels) and
            # drops its own START/END/REPORT lines below the system log level.
            logging_config={
                "log_format": "JSON",
                "application_log_level": LAMBDA_LEVEL_NAMES[LOG_LEVELS[settings.log_level]],
                "system_log_level": settings.system_log_level,
                "log_group": self.log_group.name,
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy, self.log_group]),
        )
        self.register_outputs(
            {
                "function_name": self.function.name,
                "function_arn": self.function.arn,
                "role_arn": self.role.arn,
            }
        )
