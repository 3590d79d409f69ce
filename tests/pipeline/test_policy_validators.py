"""Each policy of the pack, on a resource that keeps it and one that breaks it, built by hand
as the engine hands them over (camelCase props, type tokens, URNs naming the stack)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from policies import validators as v
from policies.catalog import dofs_policies
from policies.iam_rules import NO_RESOURCE_ACTIONS
from tests.pipeline.policy_harness import (
    check_resource,
    check_stack,
    default_config,
    policy_resource,
    resource_args,
)

ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
TABLE_ARN = "arn:aws:dynamodb:ap-south-1:123456789012:table/dofs-orders-dev"
QUEUE_ARN = "arn:aws:sqs:ap-south-1:123456789012:dofs-order-queue-dev"
DLQ_ARN = "arn:aws:sqs:ap-south-1:123456789012:dofs-order-dlq-dev"
PRODUCTION = {v.PRODUCTION_STACKS: ["prod"]}


def role_policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"role": "r", "policy": json.dumps({"Version": "2012-10-17", "Statement": list(statements)})}


def allow(actions: list[str], resources: list[str]) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


# --- IAM statements --------------------------------------------------------------------


def test_named_actions_on_named_resources_and_xray_on_star_pass() -> None:
    props = role_policy(
        allow(["dynamodb:PutItem"], [TABLE_ARN]),
        allow(["xray:PutTraceSegments", "xray:PutTelemetryRecords"], ["*"]),
    )

    assert check_resource(v.iam_statements_named, resource_args(ROLE_POLICY, props)) == []


@pytest.mark.parametrize("action", ["*", "dynamodb:*", "dynamodb:Put*"])
def test_a_wildcard_action_is_a_violation(action: str) -> None:
    found = check_resource(
        v.iam_statements_named, resource_args(ROLE_POLICY, role_policy(allow([action], [TABLE_ARN])))
    )

    assert found == [f"a statement allows the wildcard action {action!r}: name each action"]


def test_star_resource_for_an_action_that_takes_resources_is_a_violation() -> None:
    props = role_policy(allow(["xray:PutTraceSegments", "sqs:SendMessage"], ["*"]))

    (found,) = check_resource(v.iam_statements_named, resource_args(ROLE_POLICY, props))

    assert "sqs:SendMessage on resource '*'" in found and "xray" not in found


def test_not_action_is_a_violation_and_a_role_inline_policy_is_checked_too() -> None:
    inline = {
        "name": "p",
        "policy": json.dumps({"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}),
    }
    props = {"assumeRolePolicy": "{}", "inlinePolicies": [inline]}

    found = check_resource(v.iam_statements_named, resource_args("aws:iam/role:Role", props))

    assert any("NotAction" in message for message in found)


def test_every_star_resource_action_has_a_reason() -> None:
    assert all(":" in action and reason.strip() for action, reason in NO_RESOURCE_ACTIONS.items())


# --- queues ----------------------------------------------------------------------------


def test_an_unencrypted_queue_is_a_violation() -> None:
    queue = "aws:sqs/queue:Queue"

    assert check_resource(v.queue_encrypted, resource_args(queue, {"sqsManagedSseEnabled": True})) == []
    assert check_resource(v.queue_encrypted, resource_args(queue, {"kmsMasterKeyId": "alias/dofs"})) == []
    assert check_resource(v.queue_encrypted, resource_args(queue, {"sqsManagedSseEnabled": False})) != []


def test_a_work_queue_without_redrive_is_a_violation_its_dlq_is_not() -> None:
    redrive = json.dumps({"deadLetterTargetArn": DLQ_ARN, "maxReceiveCount": 3})
    dlq = policy_resource(v.QUEUE, {"arn": DLQ_ARN}, name="dlq")
    good = policy_resource(v.QUEUE, {"arn": QUEUE_ARN, "redrivePolicy": redrive}, name="queue")
    bad = policy_resource(v.QUEUE, {"arn": QUEUE_ARN}, name="queue")

    assert check_stack(v.queues_redrive, [dlq, good]) == []
    assert check_stack(v.queues_redrive, [dlq, bad]) == [
        "the queue is no dead-letter queue and has no redrive policy",
        "the queue is no dead-letter queue and has no redrive policy",
    ]


def test_a_queue_an_event_target_sends_failures_to_is_a_dlq() -> None:
    dlq = policy_resource(v.QUEUE, {"arn": DLQ_ARN})
    target = policy_resource(v.EVENT_TARGET, {"deadLetterConfig": {"arn": DLQ_ARN}})

    assert check_stack(v.queues_redrive, [dlq, target]) == []


# --- functions -------------------------------------------------------------------------

GOOD_FUNCTION = {
    "name": "dofs-validator-dev",
    "architectures": ["arm64"],
    "tracingConfig": {"mode": "Active"},
    "environment": {"variables": {"ENVIRONMENT": "dev"}},
    "loggingConfig": {"logGroup": "/aws/lambda/dofs-validator-dev"},
}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"architectures": ["x86_64"]}, "not arm64"),
        ({"architectures": None}, "not arm64"),
        ({"tracingConfig": {"mode": "PassThrough"}}, "tracing is not Active"),
        ({"environment": {"variables": {"DOFS_FAULTS": "{}"}}}, "fault-injection variable DOFS_FAULTS"),
    ],
)
def test_a_function_off_its_settings_is_a_violation(change: dict[str, Any], expected: str) -> None:
    assert check_resource(v.function_settings, resource_args(v.FUNCTION, GOOD_FUNCTION)) == []
    (found,) = check_resource(v.function_settings, resource_args(v.FUNCTION, {**GOOD_FUNCTION, **change}))
    assert expected in found


def test_a_function_without_a_log_group_with_retention_is_a_violation() -> None:
    function = policy_resource(v.FUNCTION, GOOD_FUNCTION)
    kept = policy_resource(v.LOG_GROUP, {"name": "/aws/lambda/dofs-validator-dev", "retentionInDays": 14})
    forever = policy_resource(v.LOG_GROUP, {"name": "/aws/lambda/dofs-validator-dev"})
    default_name = policy_resource(v.FUNCTION, {**GOOD_FUNCTION, "loggingConfig": None})

    assert check_stack(v.functions_log_retention, [function, kept]) == []
    assert check_stack(v.functions_log_retention, [default_name, kept]) == []
    assert "has no retention" in check_stack(v.functions_log_retention, [function, forever])[0]
    assert "is not in the stack" in check_stack(v.functions_log_retention, [function])[0]


# --- tables ----------------------------------------------------------------------------

ENCRYPTED = {"serverSideEncryption": {"enabled": True}}
PROTECTED = {**ENCRYPTED, "pointInTimeRecovery": {"enabled": True}, "deletionProtectionEnabled": True}


def test_an_unencrypted_table_is_a_violation_in_any_stack() -> None:
    assert (
        check_resource(v.table_protected, resource_args(v.TABLE, ENCRYPTED, "dev", config=PRODUCTION)) == []
    )
    assert check_resource(v.table_protected, resource_args(v.TABLE, {}, "dev", config=PRODUCTION)) != []


def test_a_production_table_needs_pitr_and_deletion_protection() -> None:
    assert (
        check_resource(v.table_protected, resource_args(v.TABLE, PROTECTED, "prod", config=PRODUCTION)) == []
    )
    found = check_resource(v.table_protected, resource_args(v.TABLE, ENCRYPTED, "prod", config=PRODUCTION))
    assert len(found) == 2 and "point-in-time recovery" in found[0] and "deletion protection" in found[1]


def test_production_stacks_come_from_the_policy_config() -> None:
    staging = {v.PRODUCTION_STACKS: ["prod", "staging"]}

    assert (
        check_resource(v.table_protected, resource_args(v.TABLE, ENCRYPTED, "staging", config=staging)) != []
    )
    assert check_resource(v.table_protected, resource_args(v.TABLE, ENCRYPTED, "prod", config={})) != []
    (table_policy,) = [p for p in dofs_policies() if p.name == "table-protected"]
    assert default_config(table_policy) == PRODUCTION


# --- alarms ----------------------------------------------------------------------------


def test_an_alarm_without_alarm_or_ok_actions_is_a_violation() -> None:
    topic = ["arn:aws:sns:ap-south-1:123456789012:dofs-alarms-dev"]
    alarm = v.METRIC_ALARM

    assert (
        check_resource(v.alarm_has_actions, resource_args(alarm, {"alarmActions": topic, "okActions": topic}))
        == []
    )
    assert check_resource(v.alarm_has_actions, resource_args(alarm, {"alarmActions": topic})) == [
        "the alarm has no okActions: nobody is told when it changes state"
    ]
    disabled = {"alarmActions": topic, "okActions": topic, "actionsEnabled": False}
    assert check_resource(v.alarm_has_actions, resource_args(alarm, disabled)) == [
        "the alarm's actions are disabled"
    ]


# --- the API ---------------------------------------------------------------------------


def test_a_stage_without_throttling_is_a_violation() -> None:
    stage = policy_resource(v.API_STAGE, {"restApi": "api1", "stageName": "dev"})
    settings = {"throttlingRateLimit": 20, "throttlingBurstLimit": 40}
    throttled = policy_resource(
        v.METHOD_SETTINGS, {"restApi": "api1", "stageName": "dev", "methodPath": "*/*", "settings": settings}
    )
    unlimited = policy_resource(
        v.METHOD_SETTINGS, {"restApi": "api1", "stageName": "dev", "methodPath": "*/*", "settings": {}}
    )

    assert check_stack(v.api_stages_throttled, [stage, throttled]) == []
    assert check_stack(v.api_stages_throttled, [stage, unlimited]) != []
    assert check_stack(v.api_stages_throttled, [stage]) != []


def api(stack: str, order_auth: dict[str, Any]) -> list[Any]:
    """A REST API with /health (open), /order, /orders and /orders/{order_id}."""
    rest = policy_resource(v.REST_API, {"name": f"dofs-api-{stack}"}, stack, "api")
    health = policy_resource(v.API_RESOURCE, {"pathPart": "health"}, stack, "health", parentId=[rest])
    order = policy_resource(v.API_RESOURCE, {"pathPart": "order"}, stack, "order", parentId=[rest])
    orders = policy_resource(v.API_RESOURCE, {"pathPart": "orders"}, stack, "orders", parentId=[rest])
    one = policy_resource(v.API_RESOURCE, {"pathPart": "{order_id}"}, stack, "one", parentId=[orders])
    open_method = {"authorization": "NONE"}

    def method(name: str, verb: str, on: Any, auth: dict[str, Any]) -> Any:
        return policy_resource(v.API_METHOD, {"httpMethod": verb, **auth}, stack, name, resourceId=[on])

    return [
        rest,
        health,
        order,
        orders,
        one,
        method("get-health", "GET", health, open_method),
        method("any-root", "ANY", rest, open_method),
        method("post-order", "POST", order, order_auth),
        method("post-orders", "POST", orders, {"authorization": "AWS_IAM"}),
        method("get-order", "GET", one, {"authorization": "NONE", "apiKeyRequired": True}),
    ]


def test_production_routes_need_an_api_key_or_iam_and_health_stays_open() -> None:
    keyed = {"authorization": "NONE", "apiKeyRequired": True}

    assert check_stack(v.api_authenticated_in_production, api("prod", keyed), PRODUCTION) == []
    assert check_stack(
        v.api_authenticated_in_production, api("prod", {"authorization": "NONE"}), PRODUCTION
    ) == ["POST /order takes no API key and no IAM auth"]
    assert (
        check_stack(v.api_authenticated_in_production, api("dev", {"authorization": "NONE"}), PRODUCTION)
        == []
    )


def test_a_production_route_with_no_method_found_is_a_violation_not_a_pass() -> None:
    resources = [r for r in api("prod", {"apiKeyRequired": True}) if r.name != "get-order"]

    assert check_stack(v.api_authenticated_in_production, resources, PRODUCTION) == [
        "no API Gateway method for GET /orders/{order_id}: cannot check its auth"
    ]
