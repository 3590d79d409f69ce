"""Every policy of the pack, mandatory: ``__main__`` serves this list, tests run it."""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    ResourceValidationPolicy,
    StackValidationPolicy,
)

from policies import validators as v

MANDATORY = EnforcementLevel.MANDATORY


def dofs_policies() -> list[Policy]:
    return [
        ResourceValidationPolicy(
            "iam-statements-named",
            "IAM statements name their actions (no wildcard) and their resources; '*' only for "
            "actions without resource-level permissions",
            v.iam_statements_named,
            MANDATORY,
        ),
        ResourceValidationPolicy(
            "queue-encrypted", "Every SQS queue is encrypted", v.queue_encrypted, MANDATORY
        ),
        ResourceValidationPolicy(
            "function-settings",
            "Every function runs arm64 with Active tracing and no fault-injection variable",
            v.function_settings,
            MANDATORY,
        ),
        ResourceValidationPolicy(
            "table-protected",
            "Tables are encrypted; in production stacks with point-in-time recovery and deletion protection",
            v.table_protected,
            MANDATORY,
            config_schema=v.PRODUCTION_CONFIG,
        ),
        ResourceValidationPolicy(
            "alarm-has-actions", "Every alarm has alarm and OK actions", v.alarm_has_actions, MANDATORY
        ),
        StackValidationPolicy(
            "queue-redrive",
            "Every queue that is not a dead-letter queue has a redrive policy",
            v.queues_redrive,
            MANDATORY,
        ),
        StackValidationPolicy(
            "function-log-retention",
            "Every function's log group is in the stack, with a retention",
            v.functions_log_retention,
            MANDATORY,
        ),
        StackValidationPolicy(
            "api-stage-throttled",
            "Every API stage is throttled by MethodSettings on */*",
            v.api_stages_throttled,
            MANDATORY,
        ),
        StackValidationPolicy(
            "api-authenticated-in-production",
            "In production stacks every authenticated route needs an API key or IAM auth",
            v.api_authenticated_in_production,
            MANDATORY,
            config_schema=v.PRODUCTION_CONFIG,
        ),
    ]
