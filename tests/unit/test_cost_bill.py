"""Line items, fixed costs and the ceiling (benchmarks/cost/bill.py) for a measurement built by hand."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from decimal import Decimal

import pytest

from benchmarks.cost.bill import make_bill
from benchmarks.cost.logs import LambdaLogConfig
from benchmarks.cost.measurement import (
    FunctionSetup,
    FunctionUsage,
    Measurement,
    SamplingRule,
    Window,
    WorkflowSetup,
    WorkflowUsage,
)
from benchmarks.cost.report import render
from benchmarks.cost.tally import OTHER, SQS, FunctionCounts, Tally

ORDERS = 100
QUIET_LOGS = {"LogFormat": "JSON", "SystemLogLevel": "WARN"}  # no platform lines: simpler sums


def function(
    name: str, invocations: int, seconds: int, invoker: str, *, traced: bool = True
) -> FunctionUsage:
    setup = FunctionSetup(name, 256, traced, LambdaLogConfig.of(name, QUIET_LOGS), init_ms=200)
    counts = FunctionCounts(invocations=invocations, billed_ms=seconds * 1000, seconds=Decimal(seconds))
    counts.invokers[invoker] = invocations
    return FunctionUsage.of(setup, counts)


def measurement(*, table_write_units: int = 400, mappings: int = 2) -> Measurement:
    """100 orders: 6 transitions each, one API call, 2.5 write units each on the key PENDING."""
    tally = Tally(api_requests=ORDERS)
    tally.sqs_requests["SendMessage"] = ORDERS
    tally.dynamodb.write_units[("orders", "")] = table_write_units
    tally.dynamodb.write_units_by_key[("orders", "status-index", "PENDING")] = 250
    tally.dynamodb.write_units_by_key[("orders", "", "order-1")] = 4
    workflow = WorkflowUsage(
        setup=WorkflowSetup(
            "arn:sm", "STANDARD", 5000, "/aws/vendedlogs/states/sm", "OFF", False, traced=False
        ),
        executions=ORDERS,
        start_requests=ORDERS,
        transitions=6 * ORDERS,
        retries=0,
        express_billed_ms=0,
        express_memory_mb=64,
        log_events=0,
        log_bytes=0,
    )
    window = Window(
        units=ORDERS,
        functions=(function("api", ORDERS, 10, OTHER), function("fulfill", 50, 5, SQS)),
        workflow=workflow,
        tally=tally,
        api_traced=False,
        wall_seconds=10.0,
    )
    return Measurement(
        stack="dev",
        region="ap-south-1",
        orders=window,
        outcomes=Counter({"FULFILLED": ORDERS}),
        accepted=ORDERS,
        scheduled=(),
        event_source_mappings=mappings,
        log_retention_days={},
        default_log_retention_days=30,
        sampling=SamplingRule(),
        cold_start_every=100,
    )


def test_the_lowest_sustained_limit_binds() -> None:
    bill = make_bill(measurement(), "ap-south-1", 1_000_000)
    ceilings = {limit.name: limit.ceiling for limit in bill.limits}
    assert ceilings["state transitions (STANDARD)"] == Decimal(800) / 6
    assert ceilings["StartExecution (STANDARD)"] == 150
    assert ceilings["API Gateway requests"] == 10000
    assert ceilings["DynamoDB writes, busiest key: orders index status-index = 'PENDING'"] == 400
    assert bill.binding.name == "state transitions (STANDARD)"


def test_lambda_concurrency_sums_busy_seconds_and_init_per_order() -> None:
    bill = make_bill(measurement(), "ap-south-1", 1_000_000)
    (concurrency,) = [limit for limit in bill.limits if limit.name.startswith("Lambda concurrency")]
    # api 10 s + fulfill 5 s over 100 orders, plus 1.5 cold starts of 0.2 s: 0.153 s an order.
    assert concurrency.use == Decimal("0.153")
    (event_source,) = [limit for limit in bill.limits if limit.name.startswith("SQS event source")]
    assert event_source.use == Decimal("0.05")


def test_a_limit_that_is_not_sustained_never_binds() -> None:
    bill = make_bill(measurement(table_write_units=4000), "ap-south-1", 1_000_000)
    (new_table,) = [limit for limit in bill.limits if "new on-demand table" in limit.name]
    assert new_table.ceiling == 100  # lower than every other limit
    assert bill.binding.name == "state transitions (STANDARD)"


def test_line_items_price_the_counts_per_order() -> None:
    bill = make_bill(measurement(), "ap-south-1", 1_000_000)
    items = {item.label: item for item in bill.items}
    transitions = items["STANDARD state transitions: every state entered, 0 retries, not the start"]
    assert (transitions.quantity, transitions.per_million) == (Decimal(6), Decimal("171.0000"))
    assert items["write units: orders"].per_million == Decimal("2.500")
    # api: 100 ms an order at 0.25 GB is 0.025 GB-s.
    assert items["duration: api at 256 MB"].quantity == Decimal("0.025")
    assert items["INIT: api, 200 ms per cold start, 1 in 100 invocations"].quantity == Decimal("0.0005")
    assert bill.per_million == sum((item.per_million for item in bill.items), Decimal(0))


def test_xray_samples_the_entry_points_at_the_binding_rate() -> None:
    bill = make_bill(measurement(), "ap-south-1", 1_000_000)
    (traces,) = [item for item in bill.items if item.service == "X-Ray"]
    # Only fulfill is traced: 0.5 entry points an order, at 133.3 orders/s 66.7 a second:
    # the 1/s reservoir, then 5% of the rest.
    rate = Decimal("0.5") * Decimal(800) / 6
    assert traces.quantity == Decimal("0.5") * (1 + Decimal("0.05") * (rate - 1)) / rate


def test_idle_pollers_are_a_fixed_cost_spread_over_the_monthly_orders() -> None:
    bill = make_bill(measurement(mappings=2), "ap-south-1", 2_000_000)
    (polls,) = bill.fixed
    assert polls.quantity == 2 * 5 * 30 * 86400 / 20  # 1,296,000 long polls a month
    assert bill.fixed_per_month == Decimal("0.5184")
    assert bill.per_million_with_fixed == bill.per_million + Decimal("0.2592")


def test_log_bytes_are_ingested_and_stored_for_their_groups_retention() -> None:
    setup = FunctionSetup("api", 256, False, LambdaLogConfig.of("api", QUIET_LOGS), init_ms=200)
    # 100 invocations wrote 100 lines: with 26 bytes of overhead each, 100,000 bytes.
    counts = FunctionCounts(invocations=ORDERS, billed_ms=1000, seconds=Decimal(1))
    counts.log_bytes["INFO"], counts.log_events["INFO"] = 100_000 - 26 * ORDERS, ORDERS
    base = measurement()
    window = replace(base.orders, functions=(FunctionUsage.of(setup, counts),))
    bill = make_bill(
        replace(base, orders=window, log_retention_days={"/aws/lambda/api": 90}), "us-east-1", 10**6
    )
    items = {item.label: item for item in bill.items if item.service == "CloudWatch Logs"}
    assert items["ingested: /aws/lambda/api"].quantity == Decimal("0.000001")  # 1,000 bytes an order
    assert items["stored 90 days, uncompressed: /aws/lambda/api"].quantity == Decimal("0.000003")
    assert items["ingested: /aws/lambda/api"].per_million == Decimal("0.50")


@pytest.mark.parametrize(
    ("rate", "share"),
    [(Decimal("0.5"), Decimal(1)), (Decimal(10), Decimal("0.145")), (Decimal(0), Decimal(0))],
)
def test_the_default_rule_keeps_one_a_second_and_5_percent_of_the_rest(rate: Decimal, share: Decimal) -> None:
    assert SamplingRule().traced_share(rate) == share


def test_the_report_prints_the_total_and_the_binding_limit() -> None:
    bill = make_bill(measurement(), "ap-south-1", 1_000_000)
    text = render(bill)
    assert f"total per million orders: ${bill.per_million:,.4f}" in text
    assert "binding: state transitions (STANDARD) at 133.3 orders/s" in text
    markdown = render(bill, markdown=True)
    assert "| service | item | per order | unit price | $ per 1M orders |" in markdown
    assert "| --- | --- | ---: | ---: | ---: |" in markdown
