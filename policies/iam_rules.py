"""What an IAM statement in DOFS may say: named actions, never a wildcard, and a resource
``*`` only for actions that AWS offers no resource-level permission for."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

# Actions whose IAM page lists no resource type: `*` is the only resource they accept
# (Service Authorization Reference, "Actions, resources, and condition keys" per service).
NO_RESOURCE_ACTIONS: Mapping[str, str] = {
    "xray:PutTraceSegments": "X-Ray takes segments account-wide; no resource type",
    "xray:PutTelemetryRecords": "X-Ray daemon telemetry; no resource type",
    "xray:GetSamplingRules": "the SDK reads every sampling rule; no resource type",
    "xray:GetSamplingTargets": "the SDK asks for quotas of every rule; no resource type",
    "cloudwatch:PutMetricData": "metrics are not resources; scope with cloudwatch:namespace instead",
    # Step Functions' log delivery (vended logs) runs through these CloudWatch Logs actions,
    # which take no resource (Step Functions guide, "IAM policies for logging to CloudWatch Logs").
    "logs:CreateLogDelivery": "vended log delivery; no resource type",
    "logs:GetLogDelivery": "vended log delivery; no resource type",
    "logs:UpdateLogDelivery": "vended log delivery; no resource type",
    "logs:DeleteLogDelivery": "vended log delivery; no resource type",
    "logs:ListLogDeliveries": "vended log delivery; no resource type",
    "logs:PutResourcePolicy": "account-wide resource policy for vended logs; no resource type",
    "logs:DescribeResourcePolicies": "lists the account's resource policies; no resource type",
    "logs:DescribeLogGroups": "a list call over every log group; no resource type",
}

IDENTITY_POLICY_TYPES = frozenset(
    {
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/policy:Policy",
        "aws:iam/userPolicy:UserPolicy",
        "aws:iam/groupPolicy:GroupPolicy",
    }
)
ROLE = "aws:iam/role:Role"


def as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def parse_document(value: Any) -> dict[str, Any] | None:
    """A policy document as the engine hands it: JSON text or an object; None while unknown
    (a preview of a new stack, where the ARNs it names do not exist yet)."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return None
        return parsed if isinstance(parsed, dict) else None
    return None


def documents_of(resource_type: str, props: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """The identity policies a resource carries (a role's trust policy is not one)."""
    if resource_type in IDENTITY_POLICY_TYPES:
        document = parse_document(props.get("policy"))
        if document is not None:
            yield document
    elif resource_type == ROLE:
        for inline in props.get("inlinePolicies") or []:
            document = parse_document(inline.get("policy"))
            if document is not None:
                yield document


def statement_problems(
    statement: Mapping[str, Any], no_resource_actions: Mapping[str, str] = NO_RESOURCE_ACTIONS
) -> Iterator[str]:
    """What is wrong with one statement; nothing for a Deny, which can only narrow."""
    if statement.get("Effect") != "Allow":
        return
    sid = statement.get("Sid", "a statement")
    for key in ("NotAction", "NotResource"):
        if key in statement:
            yield f"{sid} uses {key}, which allows everything it does not name"
    actions = [str(a) for a in as_list(statement.get("Action", []))]
    for action in actions:
        if "*" in action:
            yield f"{sid} allows the wildcard action {action!r}: name each action"
    if "*" in as_list(statement.get("Resource", [])):
        scoped = sorted(a for a in actions if a not in no_resource_actions)
        if scoped:
            yield (
                f"{sid} allows {', '.join(scoped)} on resource '*'; these take resource-level "
                "permissions: name the resources"
            )


def document_problems(
    document: Mapping[str, Any], no_resource_actions: Mapping[str, str] = NO_RESOURCE_ACTIONS
) -> Iterator[str]:
    for statement in as_list(document.get("Statement", [])):
        yield from statement_problems(statement, no_resource_actions)
