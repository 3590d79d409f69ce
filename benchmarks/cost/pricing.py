"""The prices ``make cost`` uses, per region, each with its source and the month it was read.

Figures come from /work/shared/reference/aws-and-pulumi-facts.md (read 2026-11), which
quotes the pages named here. Where only the us-east-1 figure was read, ap-south-1 uses it
and says so: no regional price is made up. Free tiers are left out (a bill at scale does
not see them, so leaving them out is the conservative reading). Money is Decimal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum

from benchmarks.cost.errors import UnknownRegionError

READ = "2026-11"
MILLION = Decimal(1_000_000)
US_EAST_1_ONLY = "us-east-1 figure; the ap-south-1 price was not read"


class PriceKey(StrEnum):
    LAMBDA_REQUEST = "lambda_request"
    LAMBDA_ARM64_GB_SECOND = "lambda_arm64_gb_second"
    STANDARD_TRANSITION = "standard_transition"
    EXPRESS_REQUEST = "express_request"
    EXPRESS_GB_SECOND = "express_gb_second"
    REST_API_REQUEST = "rest_api_request"
    SQS_REQUEST = "sqs_request"
    DYNAMODB_WRITE_UNIT = "dynamodb_write_unit"
    DYNAMODB_READ_UNIT = "dynamodb_read_unit"
    LOGS_INGESTED_GB = "logs_ingested_gb"
    LOGS_STORED_GB_MONTH = "logs_stored_gb_month"
    XRAY_TRACE = "xray_trace"


@dataclass(frozen=True)
class Price:
    """``amount`` dollars buys ``per`` units."""

    amount: Decimal
    per: Decimal
    unit: str
    source: str
    read: str = READ
    note: str = ""

    @property
    def unit_price(self) -> Decimal:
        return self.amount / self.per

    def cost(self, quantity: Decimal) -> Decimal:
        return quantity * self.unit_price

    def per_million(self, quantity_per_order: Decimal) -> Decimal:
        """Dollars per million orders for ``quantity_per_order`` units in each order."""
        return self.cost(quantity_per_order * MILLION)

    def label(self) -> str:
        per = "" if self.per == 1 else f" / {self.per:,}"
        return f"${self.amount}{per} {self.unit}"


SFN_PRICING = "aws.amazon.com/step-functions/pricing"
US_EAST_1: dict[PriceKey, Price] = {
    PriceKey.LAMBDA_REQUEST: Price(
        Decimal("0.20"), MILLION, "requests", "AWS Lambda pricing (secondary, facts file)"
    ),
    PriceKey.LAMBDA_ARM64_GB_SECOND: Price(
        Decimal("0.0000133334"),
        Decimal(1),
        "GB-s",
        "AWS Lambda pricing, arm64 (secondary, facts file); INIT billed since 2025-08-01 "
        '(AWS Compute Blog "AWS Lambda standardizes billing for INIT Phase")',
    ),
    PriceKey.STANDARD_TRANSITION: Price(Decimal("0.025"), Decimal(1000), "state transitions", SFN_PRICING),
    PriceKey.EXPRESS_REQUEST: Price(Decimal("1.00"), MILLION, "requests", SFN_PRICING),
    PriceKey.EXPRESS_GB_SECOND: Price(
        Decimal("0.00001667"), Decimal(1), "GB-s", f"{SFN_PRICING} (first 1,000 GB-h; 100 ms, 64 MB units)"
    ),
    PriceKey.REST_API_REQUEST: Price(
        Decimal("3.50"),
        MILLION,
        "requests",
        "docs.aws.amazon.com/whitepapers/latest/best-practices-api-gateway-private-apis-integration/"
        "cost-optimization.html (REST, first 333M)",
    ),
    PriceKey.SQS_REQUEST: Price(
        Decimal("0.40"), MILLION, "requests", "Amazon SQS pricing, standard queue (secondary, facts file)"
    ),
    PriceKey.DYNAMODB_WRITE_UNIT: Price(
        Decimal("0.625"),
        MILLION,
        "write units",
        "DynamoDB on-demand, after 2024-11-01 (secondary, facts file)",
    ),
    PriceKey.DYNAMODB_READ_UNIT: Price(
        Decimal("0.125"),
        MILLION,
        "read units",
        "DynamoDB on-demand, after 2024-11-01 (secondary, facts file)",
    ),
    PriceKey.LOGS_INGESTED_GB: Price(
        Decimal("0.50"),
        Decimal(1),
        "GB ingested",
        "CloudWatch Logs, Standard class; Lambda (tiered) and vended logs at their first tier "
        "(secondary, facts file)",
    ),
    PriceKey.LOGS_STORED_GB_MONTH: Price(
        Decimal("0.03"), Decimal(1), "GB-month stored", "CloudWatch Logs storage (secondary, facts file)"
    ),
    PriceKey.XRAY_TRACE: Price(Decimal("5.00"), MILLION, "traces recorded", "aws.amazon.com/xray/pricing"),
}


def _ap_south_1() -> dict[PriceKey, Price]:
    prices = {key: replace(price, note=US_EAST_1_ONLY) for key, price in US_EAST_1.items()}
    prices[PriceKey.STANDARD_TRANSITION] = Price(
        Decimal("0.0285"),
        Decimal(1000),
        "state transitions",
        SFN_PRICING,
        note="ap-south-1 figure (older crawl)",
    )
    return prices


PRICES: dict[str, dict[PriceKey, Price]] = {"us-east-1": US_EAST_1, "ap-south-1": _ap_south_1()}


def prices_for(region: str) -> Mapping[PriceKey, Price]:
    if region not in PRICES:
        known = ", ".join(sorted(PRICES))
        raise UnknownRegionError(f"no prices are kept for region {region!r} (only for {known})")
    return PRICES[region]
