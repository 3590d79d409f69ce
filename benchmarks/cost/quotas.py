"""The quotas that bound DOFS's sustained throughput, per region, each with its source.

Figures come from /work/shared/reference/aws-and-pulumi-facts.md (read 2026-11). Step
Functions' STANDARD quotas are higher in us-east-1, us-west-2 and eu-west-1 than anywhere
else; the others are the same in both regions kept here. ``sustained`` is False for a
limit that only holds at first (it rises with traffic), which is shown but never binds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from benchmarks.cost.errors import UnknownRegionError

SFN_QUOTAS = "Step Functions service quotas page"
LAMBDA_SCALING = "docs.aws.amazon.com/lambda/latest/dg/scaling-behavior.html"
DYNAMODB_GUIDE = "DynamoDB Developer Guide (service quotas, partitions)"


class QuotaKey(StrEnum):
    STANDARD_START_EXECUTION = "standard_start_execution"
    STANDARD_STATE_TRANSITIONS = "standard_state_transitions"
    EXPRESS_START_EXECUTION = "express_start_execution"
    LAMBDA_CONCURRENCY = "lambda_concurrency"
    SQS_EVENT_SOURCE_CONCURRENCY = "sqs_event_source_concurrency"
    API_GATEWAY_REQUESTS = "api_gateway_requests"
    DYNAMODB_PARTITION_WRITES = "dynamodb_partition_writes"
    DYNAMODB_PARTITION_READS = "dynamodb_partition_reads"
    DYNAMODB_NEW_TABLE_WRITES = "dynamodb_new_table_writes"


@dataclass(frozen=True)
class Quota:
    value: Decimal
    unit: str
    source: str
    sustained: bool = True
    note: str = ""


def _common() -> dict[QuotaKey, Quota]:
    return {
        QuotaKey.EXPRESS_START_EXECUTION: Quota(
            Decimal(6000), "starts/s", SFN_QUOTAS, note="refill 6,000/s; EXPRESS has no transition quota"
        ),
        QuotaKey.LAMBDA_CONCURRENCY: Quota(
            Decimal(1000),
            "concurrent executions",
            LAMBDA_SCALING,
            note="region default, shared by all functions",
        ),
        QuotaKey.SQS_EVENT_SOURCE_CONCURRENCY: Quota(
            Decimal(1250),
            "concurrent invokes per SQS mapping",
            "docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html",
            note="reached at +300 per minute",
        ),
        QuotaKey.API_GATEWAY_REQUESTS: Quota(
            Decimal(10000), "requests/s", "API Gateway quotas page", note="per account and region"
        ),
        QuotaKey.DYNAMODB_PARTITION_WRITES: Quota(
            Decimal(1000), "write units/s per partition", DYNAMODB_GUIDE
        ),
        QuotaKey.DYNAMODB_PARTITION_READS: Quota(Decimal(3000), "read units/s per partition", DYNAMODB_GUIDE),
        QuotaKey.DYNAMODB_NEW_TABLE_WRITES: Quota(
            Decimal(4000),
            "write units/s per new on-demand table",
            DYNAMODB_GUIDE,
            sustained=False,
            note="rises to 2x the previous peak within 30 min, or pre-warm it",
        ),
    }


def _standard(start_refill: int, transitions: int, where: str) -> dict[QuotaKey, Quota]:
    return {
        QuotaKey.STANDARD_START_EXECUTION: Quota(
            Decimal(start_refill), "starts/s", SFN_QUOTAS, note=f"StartExecution refill {where}"
        ),
        QuotaKey.STANDARD_STATE_TRANSITIONS: Quota(
            Decimal(transitions), "transitions/s", SFN_QUOTAS, note=f"state transitions {where}"
        ),
    }


QUOTAS: dict[str, dict[QuotaKey, Quota]] = {
    "us-east-1": {**_common(), **_standard(300, 5000, "in us-east-1, us-west-2, eu-west-1")},
    "ap-south-1": {**_common(), **_standard(150, 800, "outside us-east-1, us-west-2, eu-west-1")},
}


def quotas_for(region: str) -> Mapping[QuotaKey, Quota]:
    if region not in QUOTAS:
        known = ", ".join(sorted(QUOTAS))
        raise UnknownRegionError(f"no quotas are kept for region {region!r} (only for {known})")
    return QUOTAS[region]
