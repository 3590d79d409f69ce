"""The price and quota tables (benchmarks/cost/pricing.py, quotas.py) and their arithmetic."""

from __future__ import annotations

from decimal import Decimal

import pytest

from benchmarks.cost.errors import UnknownRegionError
from benchmarks.cost.pricing import PRICES, US_EAST_1_ONLY, Price, PriceKey, prices_for
from benchmarks.cost.quotas import QUOTAS, QuotaKey, quotas_for

MILLION = Decimal(1_000_000)


def test_three_lambda_requests_an_order_cost_60_cents_per_million_orders() -> None:
    price = prices_for("ap-south-1")[PriceKey.LAMBDA_REQUEST]
    assert price.per_million(Decimal(3)) == Decimal("0.60")


def test_half_a_gb_second_an_order_costs_6_67_per_million_orders() -> None:
    price = prices_for("us-east-1")[PriceKey.LAMBDA_ARM64_GB_SECOND]
    assert price.per_million(Decimal("0.5")) == Decimal("6.6667")


def test_standard_transitions_are_priced_per_thousand_and_by_region() -> None:
    seven = Decimal(7)
    assert prices_for("us-east-1")[PriceKey.STANDARD_TRANSITION].per_million(seven) == Decimal("175.000")
    assert prices_for("ap-south-1")[PriceKey.STANDARD_TRANSITION].per_million(seven) == Decimal("199.5000")


def test_write_units_and_log_gigabytes_per_order() -> None:
    prices = prices_for("ap-south-1")
    assert prices[PriceKey.DYNAMODB_WRITE_UNIT].per_million(Decimal("4.5")) == Decimal("2.8125")
    # 2,000 bytes of logs an order is 2 GB per million orders: $1.00 ingested.
    assert prices[PriceKey.LOGS_INGESTED_GB].per_million(Decimal(2000) / Decimal(10**9)) == Decimal("1.00")


def test_a_price_costs_its_amount_for_its_units() -> None:
    price = Price(Decimal("3.50"), MILLION, "requests", "a page")
    assert price.unit_price == Decimal("0.0000035")
    assert price.cost(Decimal(2_000_000)) == Decimal("7.00")
    assert price.label() == "$3.50 / 1,000,000 requests"


def test_every_region_prices_everything_with_a_source_and_the_month_read() -> None:
    for region, prices in PRICES.items():
        assert set(prices) == set(PriceKey), region
        for key, price in prices.items():
            assert isinstance(price.amount, Decimal) and price.amount > 0, key
            assert price.source and price.read == "2026-11", key


def test_ap_south_1_says_plainly_where_it_uses_the_us_east_1_figure() -> None:
    mumbai, virginia = prices_for("ap-south-1"), prices_for("us-east-1")
    borrowed = [key for key in PriceKey if mumbai[key].note == US_EAST_1_ONLY]
    assert PriceKey.STANDARD_TRANSITION not in borrowed
    assert len(borrowed) == len(PriceKey) - 1
    assert all(mumbai[key].amount == virginia[key].amount for key in borrowed)
    assert mumbai[PriceKey.STANDARD_TRANSITION].amount != virginia[PriceKey.STANDARD_TRANSITION].amount


def test_an_unknown_region_is_named_with_the_known_ones() -> None:
    with pytest.raises(UnknownRegionError, match=r"'eu-north-1'.*ap-south-1, us-east-1"):
        prices_for("eu-north-1")
    with pytest.raises(UnknownRegionError, match="eu-north-1"):
        quotas_for("eu-north-1")


def test_quotas_differ_by_region_only_where_step_functions_standard_does() -> None:
    mumbai, virginia = quotas_for("ap-south-1"), quotas_for("us-east-1")
    assert mumbai[QuotaKey.STANDARD_START_EXECUTION].value == 150
    assert mumbai[QuotaKey.STANDARD_STATE_TRANSITIONS].value == 800
    assert virginia[QuotaKey.STANDARD_START_EXECUTION].value == 300
    assert virginia[QuotaKey.STANDARD_STATE_TRANSITIONS].value == 5000
    same = set(QuotaKey) - {QuotaKey.STANDARD_START_EXECUTION, QuotaKey.STANDARD_STATE_TRANSITIONS}
    assert all(mumbai[key] == virginia[key] for key in same)
    assert all(quota.source for quotas in QUOTAS.values() for quota in quotas.values())
