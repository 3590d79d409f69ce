"""The bill and the ceiling, from a measurement, the price table and the quota table.

Quantities per order are the run's counts divided by the orders sent. Scheduled work is a
fixed cost per month: what one run used, times the runs a month at the schedule's rate.
So are AWS's SQS pollers, which long-poll every queue with a mapping even when idle.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal

from benchmarks.cost.measurement import Measurement, Window
from benchmarks.cost.pricing import MILLION, Price, PriceKey, prices_for
from benchmarks.cost.quotas import Quota, QuotaKey, quotas_for

GB = Decimal(10**9)  # a decimal GB: more GB for the same bytes than 2**30 (conservative)
LAMBDA_MB_PER_GB = Decimal(1024)  # Lambda: 128 MB is 0.125 GB
DAYS_PER_MONTH = Decimal(30)
MONTH_SECONDS = DAYS_PER_MONTH * 86400
# AWS's SQS event source: at least five pollers per mapping, each a 20 s long poll when idle
# (docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html; an assumption, not a quota).
IDLE_POLLERS_PER_MAPPING = 5
IDLE_POLL_SECONDS = 20


@dataclass(frozen=True)
class LineItem:
    service: str
    label: str
    quantity: Decimal  # per order, or per month for a fixed cost
    price: Price

    @property
    def cost(self) -> Decimal:
        return self.price.cost(self.quantity)

    @property
    def per_million(self) -> Decimal:
        return self.price.per_million(self.quantity)


@dataclass(frozen=True)
class Limit:
    name: str
    quota: Quota
    use: Decimal  # per order, in the quota's unit times seconds
    use_unit: str

    @property
    def ceiling(self) -> Decimal | None:
        """Orders per second at which the use reaches the quota (None: the run used none)."""
        return self.quota.value / self.use if self.use > 0 else None


@dataclass(frozen=True)
class Bill:
    measurement: Measurement
    items: tuple[LineItem, ...]  # per order
    fixed: tuple[LineItem, ...]  # per month
    limits: tuple[Limit, ...]
    monthly_orders: int
    region: str  # where it is priced and bounded

    @property
    def binding(self) -> Limit:
        sustained = [limit for limit in self.limits if limit.quota.sustained and limit.ceiling is not None]
        return min(sustained, key=lambda limit: limit.ceiling or Decimal(0))

    @property
    def per_million(self) -> Decimal:
        return sum((item.per_million for item in self.items), Decimal(0))

    @property
    def fixed_per_month(self) -> Decimal:
        return sum((item.cost for item in self.fixed), Decimal(0))

    @property
    def per_million_with_fixed(self) -> Decimal:
        return self.per_million + self.fixed_per_month * MILLION / Decimal(self.monthly_orders)


def _lambda_items(
    window: Window, per: Decimal, prices: Mapping[PriceKey, Price], every: int
) -> Iterator[LineItem]:
    for function in window.functions:
        setup = function.setup
        if function.invocations == 0:
            continue
        gigabytes = Decimal(setup.memory_mb) / LAMBDA_MB_PER_GB
        cold_starts = Decimal(function.invocations) / every
        yield LineItem(
            "Lambda", f"requests: {setup.name}", function.invocations / per, prices[PriceKey.LAMBDA_REQUEST]
        )
        yield LineItem(
            "Lambda",
            f"duration: {setup.name} at {setup.memory_mb} MB",
            Decimal(function.billed_ms) / 1000 * gigabytes / per,
            prices[PriceKey.LAMBDA_ARM64_GB_SECOND],
        )
        yield LineItem(
            "Lambda",
            f"INIT: {setup.name}, {setup.init_ms} ms per cold start, 1 in {every} invocations",
            cold_starts * setup.init_ms / 1000 * gigabytes / per,
            prices[PriceKey.LAMBDA_ARM64_GB_SECOND],
        )


def _workflow_items(window: Window, per: Decimal, prices: Mapping[PriceKey, Price]) -> Iterator[LineItem]:
    workflow = window.workflow
    if workflow.setup.workflow_type == "EXPRESS":
        yield LineItem(
            "Step Functions",
            "EXPRESS requests (every StartExecution)",
            workflow.start_requests / per,
            prices[PriceKey.EXPRESS_REQUEST],
        )
        yield LineItem(
            "Step Functions",
            f"EXPRESS duration at {workflow.express_memory_mb} MB (100 ms units)",
            Decimal(workflow.express_billed_ms) / 1000 * Decimal(workflow.express_memory_mb) / 1024 / per,
            prices[PriceKey.EXPRESS_GB_SECOND],
        )
    elif workflow.transitions:
        yield LineItem(
            "Step Functions",
            f"STANDARD state transitions: every state entered, {workflow.retries} retries, not the start",
            workflow.transitions / per,
            prices[PriceKey.STANDARD_TRANSITION],
        )


def _table_name(table: str, index: str) -> str:
    return f"{table} index {index}" if index else table


def _dynamodb_items(window: Window, per: Decimal, prices: Mapping[PriceKey, Price]) -> Iterator[LineItem]:
    counts = window.tally.dynamodb
    for (table, index), units in sorted(counts.write_units.items()):
        yield LineItem(
            "DynamoDB",
            f"write units: {_table_name(table, index)}",
            units / per,
            prices[PriceKey.DYNAMODB_WRITE_UNIT],
        )
    for (table, index), read in sorted(counts.read_units.items()):
        yield LineItem(
            "DynamoDB",
            f"read units: {_table_name(table, index)}",
            read / per,
            prices[PriceKey.DYNAMODB_READ_UNIT],
        )


def _request_items(window: Window, per: Decimal, prices: Mapping[PriceKey, Price]) -> Iterator[LineItem]:
    for action, requests in sorted(window.tally.sqs_requests.items()):
        yield LineItem(
            "SQS", f"requests: {action} (64 KB units)", requests / per, prices[PriceKey.SQS_REQUEST]
        )
    if window.tally.api_requests:
        yield LineItem(
            "API Gateway",
            "REST API requests",
            window.tally.api_requests / per,
            prices[PriceKey.REST_API_REQUEST],
        )


def _log_items(
    measurement: Measurement, window: Window, per: Decimal, prices: Mapping[PriceKey, Price]
) -> Iterator[LineItem]:
    by_group: defaultdict[str, int] = defaultdict(int)
    for function in window.functions:
        by_group[function.setup.log.log_group] += function.log_bytes
    if window.workflow.log_bytes:
        by_group[window.workflow.setup.log_group] += window.workflow.log_bytes
    for group, size in sorted(by_group.items()):
        retention_days = measurement.retention_days(group)
        months = Decimal(retention_days) / DAYS_PER_MONTH
        gigabytes = size / GB / per
        yield LineItem("CloudWatch Logs", f"ingested: {group}", gigabytes, prices[PriceKey.LOGS_INGESTED_GB])
        yield LineItem(
            "CloudWatch Logs",
            f"stored {retention_days} days, uncompressed: {group}",
            gigabytes * months,
            prices[PriceKey.LOGS_STORED_GB_MONTH],
        )


def usage_items(
    measurement: Measurement,
    window: Window,
    per: Decimal,
    units_per_second: Decimal,
    prices: Mapping[PriceKey, Price],
) -> list[LineItem]:
    """Line items for ``window``'s counts divided by ``per``; X-Ray's share sampled at
    ``units_per_second`` (orders or runs) of this work."""
    items = [
        *_lambda_items(window, per, prices, measurement.cold_start_every),
        *_workflow_items(window, per, prices),
        *_dynamodb_items(window, per, prices),
        *_request_items(window, per, prices),
        *_log_items(measurement, window, per, prices),
    ]
    entries = Decimal(window.entry_points) / per
    if entries:
        share = measurement.sampling.traced_share(entries * units_per_second)
        shown = f"{entries:,.0f}" if entries >= 100 else f"{entries:.3g}"
        label = f"traces: {shown} entry points, {measurement.sampling.source}"
        items.append(LineItem("X-Ray", label, entries * share, prices[PriceKey.XRAY_TRACE]))
    return [item for item in items if item.quantity > 0]


def fixed_items(measurement: Measurement, prices: Mapping[PriceKey, Price]) -> list[LineItem]:
    """Per month: each schedule's runs, and the SQS pollers idling on every mapping."""
    items = []
    for work in measurement.scheduled:
        runs = Decimal(work.window.units)
        per_second = work.runs_per_month / MONTH_SECONDS
        for item in usage_items(measurement, work.window, runs / work.runs_per_month, per_second, prices):
            label = f"{work.function} every {MONTH_SECONDS / work.runs_per_month:g} s: {item.label}"
            items.append(LineItem(item.service, label, item.quantity, item.price))
    polls = (
        Decimal(measurement.event_source_mappings * IDLE_POLLERS_PER_MAPPING)
        * MONTH_SECONDS
        / IDLE_POLL_SECONDS
    )
    if polls:
        label = (
            f"idle long polls: {measurement.event_source_mappings} mappings x {IDLE_POLLERS_PER_MAPPING}"
            f" pollers, one per {IDLE_POLL_SECONDS} s (assumed)"
        )
        items.append(LineItem("SQS", label, polls, prices[PriceKey.SQS_REQUEST]))
    return items


def limits(measurement: Measurement, quotas: Mapping[QuotaKey, Quota]) -> list[Limit]:
    """Each quota against the run's use of it per order."""
    window, orders = measurement.orders, Decimal(measurement.orders.units)
    workflow = window.workflow
    found: list[Limit] = []
    starts = workflow.start_requests / orders
    if workflow.setup.workflow_type == "EXPRESS":
        found.append(
            Limit("StartExecution (EXPRESS)", quotas[QuotaKey.EXPRESS_START_EXECUTION], starts, "starts")
        )
    else:
        found.append(
            Limit("StartExecution (STANDARD)", quotas[QuotaKey.STANDARD_START_EXECUTION], starts, "starts")
        )
        found.append(
            Limit(
                "state transitions (STANDARD)",
                quotas[QuotaKey.STANDARD_STATE_TRANSITIONS],
                workflow.transitions / orders,
                "transitions",
            )
        )
    busy = sum(
        (
            f.seconds + Decimal(f.invocations) / measurement.cold_start_every * f.setup.init_ms / 1000
            for f in window.functions
        ),
        Decimal(0),
    )
    found.append(
        Limit(
            "Lambda concurrency, all functions",
            quotas[QuotaKey.LAMBDA_CONCURRENCY],
            busy / orders,
            "concurrency-s",
        )
    )
    for function in window.functions:
        if function.sqs_invocations:
            share = function.seconds * function.sqs_invocations / function.invocations
            quota = quotas[QuotaKey.SQS_EVENT_SOURCE_CONCURRENCY]
            found.append(
                Limit(f"SQS event source: {function.setup.name}", quota, share / orders, "concurrency-s")
            )
    api = Decimal(window.tally.api_requests) / orders
    found.append(Limit("API Gateway requests", quotas[QuotaKey.API_GATEWAY_REQUESTS], api, "requests"))
    found.extend(_dynamodb_limits(window, orders, quotas))
    return found


def _dynamodb_limits(window: Window, orders: Decimal, quotas: Mapping[QuotaKey, Quota]) -> Iterator[Limit]:
    counts = window.tally.dynamodb
    if counts.write_units_by_key:
        (table, index, value), units = max(counts.write_units_by_key.items(), key=lambda kv: kv[1])
        name = f"DynamoDB writes, busiest key: {_table_name(table, index)} = {value!r}"
        yield Limit(name, quotas[QuotaKey.DYNAMODB_PARTITION_WRITES], units / orders, "write units")
    if counts.read_units_by_key:
        (table, index, value), read = max(counts.read_units_by_key.items(), key=lambda kv: kv[1])
        name = f"DynamoDB reads, busiest key: {_table_name(table, index)} = {value!r}"
        yield Limit(name, quotas[QuotaKey.DYNAMODB_PARTITION_READS], read / orders, "read units")
    per_table: defaultdict[str, int] = defaultdict(int)
    for (table, index), units in counts.write_units.items():
        if not index:
            per_table[table] += units
    if per_table:
        table, units = max(per_table.items(), key=lambda kv: kv[1])
        quota = quotas[QuotaKey.DYNAMODB_NEW_TABLE_WRITES]
        yield Limit(f"DynamoDB writes, new on-demand table: {table}", quota, units / orders, "write units")


def make_bill(measurement: Measurement, region: str, monthly_orders: int) -> Bill:
    """Price and bound the measurement in ``region``."""
    prices = prices_for(region)
    found = tuple(limits(measurement, quotas_for(region)))
    draft = Bill(measurement, (), (), found, monthly_orders, region)
    rate = draft.binding.ceiling or Decimal(1)
    items = usage_items(measurement, measurement.orders, Decimal(measurement.orders.units), rate, prices)
    fixed = fixed_items(measurement, prices)
    return Bill(measurement, tuple(items), tuple(fixed), found, monthly_orders, region)
