"""IAM policy documents built as data (``pulumi.Output.json_dumps``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pulumi

PolicyStatement = dict[str, Any]


def assume_role_policy(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


def assume_role_policy_from(
    service: str, *, source_account: pulumi.Input[str], source_arn: pulumi.Input[str]
) -> pulumi.Output[str]:
    """A trust policy for ``service`` that holds only when it acts for ``source_arn`` of this
    account: the confused-deputy guard AWS recommends for services that send these keys."""
    return pulumi.Output.json_dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": "sts:AssumeRole",
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": source_account},
                        "ArnLike": {"aws:SourceArn": source_arn},
                    },
                }
            ],
        }
    )


def allow(actions: Sequence[str], resources: Sequence[pulumi.Input[str]]) -> PolicyStatement:
    return {"Effect": "Allow", "Action": sorted(actions), "Resource": list(resources)}


def policy_document(statements: Sequence[PolicyStatement]) -> pulumi.Output[str]:
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})


# X-Ray has no resource-level permissions, so "*" is the only possible resource.
XRAY_WRITE = allow(["xray:PutTelemetryRecords", "xray:PutTraceSegments"], ["*"])
# Step Functions tracing also reads the sampling rules (AWS: "IAM policies for AWS X-Ray").
STEP_FUNCTIONS_XRAY = allow(
    ["xray:GetSamplingRules", "xray:GetSamplingTargets", "xray:PutTelemetryRecords", "xray:PutTraceSegments"],
    ["*"],
)
