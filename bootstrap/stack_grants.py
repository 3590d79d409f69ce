"""The grants of one stack's CI roles: the preview role reads the stack's resources, the
deploy role also changes them, and may create roles only under the permissions boundary."""

from __future__ import annotations

import pulumi

from bootstrap.permissions import (
    LAMBDA_ROLE_SERVICES,
    Grant,
    Scope,
    apigateway,
    function_arn_condition,
    mappings,
    named,
)


def read_grants(scope: Scope, pattern: str) -> list[Grant]:
    """What ``pulumi preview --refresh`` reads: each resource's describe and tag calls."""
    r = named(scope, pattern)
    return [
        Grant(
            "ReadTables",
            (
                "dynamodb:DescribeTable",
                "dynamodb:DescribeContinuousBackups",
                "dynamodb:DescribeTimeToLive",
                "dynamodb:ListTagsOfResource",
            ),
            r["table"],
        ),
        Grant("ReadQueues", ("sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:ListQueueTags"), r["queue"]),
        Grant(
            "ReadFunctions",
            (
                "lambda:GetFunction",
                "lambda:GetFunctionConfiguration",
                "lambda:GetFunctionCodeSigningConfig",
                "lambda:GetPolicy",
                "lambda:ListVersionsByFunction",
                "lambda:ListTags",
                "lambda:GetFunctionConcurrency",
            ),
            r["function"],
        ),
        Grant("ReadLayers", ("lambda:GetLayerVersion",), r["layer"]),
        Grant(
            "ReadEventSourceMappings",
            ("lambda:GetEventSourceMapping",),
            mappings(scope),
            function_arn_condition(scope, pattern),
        ),
        Grant(
            "ReadRoles",
            (
                "iam:GetRole",
                "iam:GetRolePolicy",
                "iam:ListRolePolicies",
                "iam:ListAttachedRolePolicies",
                "iam:ListInstanceProfilesForRole",
            ),
            r["role"],
        ),
        Grant("ReadLogGroups", ("logs:ListTagsForResource", "logs:ListTagsLogGroup"), r["log-group"]),
        Grant(
            "ReadStateMachines",
            ("states:DescribeStateMachine", "states:ListTagsForResource"),
            r["state-machine"],
        ),
        Grant(
            "ReadRules",
            ("events:DescribeRule", "events:ListTargetsByRule", "events:ListTagsForResource"),
            r["rule"],
        ),
        Grant("ReadSamplingRules", ("xray:ListTagsForResource",), r["sampling-rule"]),
        Grant("ReadAlarms", ("cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource"), r["alarm"]),
        Grant("ReadDashboards", ("cloudwatch:GetDashboard",), r["dashboard"]),
        Grant(
            "ReadTopics",
            (
                "sns:GetTopicAttributes",
                "sns:ListTagsForResource",
                "sns:ListSubscriptionsByTopic",
                "sns:GetSubscriptionAttributes",
            ),
            r["topic"],
        ),
        Grant("ReadApi", ("apigateway:GET",), apigateway(scope)),
        Grant("ListWithoutResource", ("xray:GetSamplingRules", "logs:DescribeLogGroups"), ("*",)),
    ]


def write_grants(scope: Scope, pattern: str, boundary_arn: pulumi.Input[str]) -> list[Grant]:
    """What ``pulumi up`` changes, on the same resources; roles only under the boundary."""
    r = named(scope, pattern)
    with_boundary = {"StringEquals": {"iam:PermissionsBoundary": boundary_arn}}
    return [
        Grant(
            "WriteTables",
            (
                "dynamodb:CreateTable",
                "dynamodb:DeleteTable",
                "dynamodb:UpdateTable",
                "dynamodb:UpdateContinuousBackups",
                "dynamodb:UpdateTimeToLive",
                "dynamodb:TagResource",
                "dynamodb:UntagResource",
            ),
            r["table"],
        ),
        Grant(
            "WriteQueues",
            (
                "sqs:CreateQueue",
                "sqs:DeleteQueue",
                "sqs:SetQueueAttributes",
                "sqs:TagQueue",
                "sqs:UntagQueue",
            ),
            r["queue"],
        ),
        Grant(
            "WriteFunctions",
            (
                "lambda:CreateFunction",
                "lambda:DeleteFunction",
                "lambda:UpdateFunctionCode",
                "lambda:UpdateFunctionConfiguration",
                "lambda:AddPermission",
                "lambda:RemovePermission",
                "lambda:TagResource",
                "lambda:UntagResource",
                "lambda:PutFunctionConcurrency",
                "lambda:DeleteFunctionConcurrency",
            ),
            r["function"],
        ),
        Grant("WriteLayers", ("lambda:PublishLayerVersion", "lambda:DeleteLayerVersion"), r["layer"]),
        Grant(
            "CreateEventSourceMappings",
            ("lambda:CreateEventSourceMapping",),
            ("*",),
            function_arn_condition(scope, pattern),
        ),
        Grant(
            "WriteEventSourceMappings",
            ("lambda:UpdateEventSourceMapping", "lambda:DeleteEventSourceMapping"),
            mappings(scope),
            function_arn_condition(scope, pattern),
        ),
        Grant(
            "CreateRolesUnderTheBoundary",
            ("iam:CreateRole", "iam:PutRolePermissionsBoundary"),
            r["role"],
            with_boundary,
        ),
        Grant(
            "WriteRoles",
            (
                "iam:DeleteRole",
                "iam:UpdateRole",
                "iam:UpdateRoleDescription",
                "iam:UpdateAssumeRolePolicy",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:PutRolePolicy",
                "iam:DeleteRolePolicy",
            ),
            r["role"],
        ),
        Grant(
            "PassRolesToTheirService",
            ("iam:PassRole",),
            r["role"],
            {"StringEquals": {"iam:PassedToService": list(LAMBDA_ROLE_SERVICES)}},
        ),
        Grant(
            "WriteLogGroups",
            (
                "logs:CreateLogGroup",
                "logs:DeleteLogGroup",
                "logs:PutRetentionPolicy",
                "logs:DeleteRetentionPolicy",
                "logs:TagResource",
                "logs:UntagResource",
                "logs:TagLogGroup",
                "logs:UntagLogGroup",
            ),
            r["log-group"],
        ),
        Grant(
            "StateMachineLogDelivery",
            (
                "logs:CreateLogDelivery",
                "logs:GetLogDelivery",
                "logs:UpdateLogDelivery",
                "logs:DeleteLogDelivery",
                "logs:ListLogDeliveries",
                "logs:PutResourcePolicy",
                "logs:DescribeResourcePolicies",
            ),
            ("*",),
        ),
        Grant(
            "WriteStateMachines",
            (
                "states:CreateStateMachine",
                "states:DeleteStateMachine",
                "states:UpdateStateMachine",
                "states:TagResource",
                "states:UntagResource",
            ),
            r["state-machine"],
        ),
        Grant(
            "WriteRules",
            (
                "events:PutRule",
                "events:DeleteRule",
                "events:PutTargets",
                "events:RemoveTargets",
                "events:TagResource",
                "events:UntagResource",
            ),
            r["rule"],
        ),
        Grant(
            "WriteSamplingRules",
            (
                "xray:CreateSamplingRule",
                "xray:UpdateSamplingRule",
                "xray:DeleteSamplingRule",
                "xray:TagResource",
                "xray:UntagResource",
            ),
            r["sampling-rule"],
        ),
        Grant(
            "WriteAlarms",
            (
                "cloudwatch:PutMetricAlarm",
                "cloudwatch:DeleteAlarms",
                "cloudwatch:TagResource",
                "cloudwatch:UntagResource",
            ),
            r["alarm"],
        ),
        Grant("WriteDashboards", ("cloudwatch:PutDashboard", "cloudwatch:DeleteDashboards"), r["dashboard"]),
        Grant(
            "WriteTopics",
            (
                "sns:CreateTopic",
                "sns:DeleteTopic",
                "sns:SetTopicAttributes",
                "sns:Subscribe",
                "sns:Unsubscribe",
                "sns:SetSubscriptionAttributes",
                "sns:TagResource",
                "sns:UntagResource",
            ),
            r["topic"],
        ),
        Grant(
            "WriteApi",
            ("apigateway:POST", "apigateway:PUT", "apigateway:PATCH", "apigateway:DELETE"),
            apigateway(scope),
        ),
    ]
