"""What the CI roles may do, as IAM documents built from data: the deploy role of one stack
touches only that stack's ``dofs-*-<stack>`` resources in this account and region; the
preview role reads them; the boundary caps every role a deploy creates.

Scopes that cannot name DOFS's resources, and why (``UNSCOPED``): a few actions take no
resource at all, and two resource types are addressed by ids AWS generates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Actions with no resource-level permission: the only resource they accept is "*"
# (Service Authorization Reference, each service's "Actions" table lists no resource type).
NO_RESOURCE_ACTIONS: Mapping[str, str] = {
    "xray:GetSamplingRules": "lists every sampling rule; no resource type",
    "xray:GetSamplingTargets": "the SDK asks for quotas of every rule; no resource type",
    "xray:PutTraceSegments": "segments are account-wide; no resource type",
    "xray:PutTelemetryRecords": "daemon telemetry; no resource type",
    "logs:CreateLogDelivery": "Step Functions' vended log delivery; no resource type",
    "logs:GetLogDelivery": "vended log delivery; no resource type",
    "logs:UpdateLogDelivery": "vended log delivery; no resource type",
    "logs:DeleteLogDelivery": "vended log delivery; no resource type",
    "logs:ListLogDeliveries": "vended log delivery; no resource type",
    "logs:PutResourcePolicy": "the account's log resource policy for vended logs; no resource type",
    "logs:DescribeResourcePolicies": "lists the account's log resource policies; no resource type",
    "logs:DescribeLogGroups": "a list call over every log group; no resource type",
    "lambda:CreateEventSourceMapping": "no resource type; scoped by the lambda:FunctionArn condition",
}
# Resources DOFS cannot name: scoped to the account and region only, with the reason.
UNSCOPED = {
    "apigateway": "REST APIs, keys and usage plans are addressed by generated ids, not names",
    "event-source-mapping": "addressed by a generated UUID; the lambda:FunctionArn condition scopes them",
}
LAMBDA_ROLE_SERVICES = ("lambda.amazonaws.com", "states.amazonaws.com")


@dataclass(frozen=True)
class Scope:
    partition: str
    account: str
    region: str

    def arn(self, service: str, resource: str, *, regional: bool = True, account: bool = True) -> str:
        region = self.region if regional else ""
        owner = self.account if account else ""
        return f"arn:{self.partition}:{service}:{region}:{owner}:{resource}"


@dataclass(frozen=True)
class Grant:
    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    condition: Mapping[str, Any] | None = None

    def statement(self) -> dict[str, Any]:
        statement: dict[str, Any] = {
            "Sid": self.sid,
            "Effect": "Allow",
            "Action": list(self.actions),
            "Resource": list(self.resources),
        }
        if self.condition:
            statement["Condition"] = dict(self.condition)
        return statement


def document(grants: list[Grant]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [grant.statement() for grant in grants]}


def named(scope: Scope, pattern: str) -> dict[str, tuple[str, ...]]:
    """ARN patterns of DOFS's resources whose names match ``pattern`` (``dofs-*-dev``)."""
    return {
        "table": (
            scope.arn("dynamodb", f"table/{pattern}"),
            scope.arn("dynamodb", f"table/{pattern}/index/*"),
        ),
        "queue": (scope.arn("sqs", pattern),),
        "function": (scope.arn("lambda", f"function:{pattern}"),),
        "layer": (scope.arn("lambda", f"layer:{pattern}"), scope.arn("lambda", f"layer:{pattern}:*")),
        "role": (scope.arn("iam", f"role/{pattern}", regional=False),),
        "log-group": (
            scope.arn("logs", f"log-group:/aws/lambda/{pattern}"),
            scope.arn("logs", f"log-group:/aws/lambda/{pattern}:*"),
            scope.arn("logs", f"log-group:/aws/vendedlogs/states/{pattern}"),
            scope.arn("logs", f"log-group:/aws/vendedlogs/states/{pattern}:*"),
        ),
        "state-machine": (scope.arn("states", f"stateMachine:{pattern}"),),
        "rule": (scope.arn("events", f"rule/{pattern}"),),
        "sampling-rule": (scope.arn("xray", f"sampling-rule/{pattern}"),),
        "alarm": (scope.arn("cloudwatch", f"alarm:{pattern}"),),
        # A stack's dashboard is dofs-<stack>: no middle part.
        "dashboard": tuple(
            dict.fromkeys(
                scope.arn("cloudwatch", f"dashboard/{name}", regional=False)
                for name in (pattern, pattern.replace("-*-", "-"))
            )
        ),
        "topic": (scope.arn("sns", pattern), scope.arn("sns", f"{pattern}:*")),
    }


def apigateway(scope: Scope) -> tuple[str, ...]:
    paths = ("/restapis", "/restapis/*", "/apikeys", "/apikeys/*", "/usageplans", "/usageplans/*", "/tags/*")
    return tuple(scope.arn("apigateway", path, account=False) for path in paths)


def mappings(scope: Scope) -> tuple[str, ...]:
    return (scope.arn("lambda", "event-source-mapping:*"),)


def function_arn_condition(scope: Scope, pattern: str) -> dict[str, Any]:
    return {"ArnLike": {"lambda:FunctionArn": list(named(scope, pattern)["function"])}}


def state_grants(bucket: str | None, *, writes: bool, partition: str = "aws") -> list[Grant]:
    """The S3 backend's state bucket, when the stacks keep their state there. A preview
    writes only its lock; an up writes the checkpoint too."""
    if not bucket:
        return []
    objects = (
        f"arn:{partition}:s3:::{bucket}/*" if writes else f"arn:{partition}:s3:::{bucket}/.pulumi/locks/*"
    )
    return [
        Grant("ListState", ("s3:ListBucket",), (f"arn:{partition}:s3:::{bucket}",)),
        Grant("ReadState", ("s3:GetObject",), (f"arn:{partition}:s3:::{bucket}/*",)),
        Grant("WriteState" if writes else "WriteLocks", ("s3:PutObject", "s3:DeleteObject"), (objects,)),
    ]


def boundary_grants(scope: Scope) -> list[Grant]:
    """The most a role DOFS creates may do (its functions' and state machine's calls)."""
    r = named(scope, "dofs-*")
    return [
        Grant(
            "Tables",
            (
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:Query",
                "dynamodb:ConditionCheckItem",
            ),
            r["table"],
        ),
        Grant(
            "Queues",
            (
                "sqs:SendMessage",
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:ChangeMessageVisibility",
                "sqs:GetQueueAttributes",
                "sqs:GetQueueUrl",
                "sqs:StartMessageMoveTask",
                "sqs:ListMessageMoveTasks",
            ),
            r["queue"],
        ),
        Grant("Functions", ("lambda:InvokeFunction",), r["function"]),
        Grant(
            "Workflows",
            (
                "states:StartExecution",
                "states:DescribeExecution",
                "states:StopExecution",
                "states:ListExecutions",
                "states:RedriveExecution",
            ),
            (
                *r["state-machine"],
                scope.arn("states", "execution:dofs-*"),
                scope.arn("states", "express:dofs-*"),
            ),
        ),
        Grant("Logs", ("logs:CreateLogStream", "logs:PutLogEvents"), r["log-group"]),
        Grant("Topics", ("sns:Publish",), r["topic"]),
        Grant(
            "WithoutResource",
            (
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
                "logs:CreateLogDelivery",
                "logs:GetLogDelivery",
                "logs:UpdateLogDelivery",
                "logs:DeleteLogDelivery",
                "logs:ListLogDeliveries",
                "logs:PutResourcePolicy",
                "logs:DescribeResourcePolicies",
                "logs:DescribeLogGroups",
            ),
            ("*",),
        ),
    ]
