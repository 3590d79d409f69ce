"""The bill and the ceiling as text tables, or as markdown to paste into the README."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from benchmarks.cost.bill import Bill, Limit, LineItem
from benchmarks.cost.pricing import READ
from handlers.models import TERMINAL_STATUSES

Row = Sequence[str]


def quantity(value: Decimal) -> str:
    if value >= 1000:
        return format(value, ",.0f")
    return format(value, ".4g") if value else "0"


def dollars(value: Decimal) -> str:
    return "$" + format(value, ",.4f")


def table(header: Row, rows: Sequence[Row], *, markdown: bool, numeric_from: int) -> list[str]:
    """Columns from ``numeric_from`` on are right-aligned."""
    if markdown:
        rule = ["---" if i < numeric_from else "---:" for i in range(len(header))]
        return ["| " + " | ".join(row) + " |" for row in (header, rule, *rows)]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

    def line(row: Row) -> str:
        cells = [
            c.rjust(w) if i >= numeric_from else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    return [line(header), line(["-" * w for w in widths]), *(line(row) for row in rows)]


class Footnotes:
    """Numbers each distinct source text once: ``[1]`` in a cell, the text below the table."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def mark(self, text: str) -> str:
        if text not in self.texts:
            self.texts.append(text)
        return f"[{self.texts.index(text) + 1}]"

    def lines(self) -> list[str]:
        return [f"[{number}] {text}" for number, text in enumerate(self.texts, start=1)]


def _item_rows(items: Sequence[LineItem], notes: Footnotes, *, per_month: bool) -> list[Row]:
    rows: list[Row] = []
    for item in items:
        price = item.price
        source = price.source + (f"; {price.note}" if price.note else "")
        rows.append(
            [
                item.service,
                item.label,
                quantity(item.quantity),
                f"{price.label()} {notes.mark(source)}",
                dollars(item.cost if per_month else item.per_million),
            ]
        )
    return rows


def header_lines(bill: Bill) -> list[str]:
    m = bill.measurement
    window = m.orders
    finals = ", ".join(
        f"{status} {m.outcomes[status]}" for status in sorted(TERMINAL_STATUSES) if m.outcomes[status]
    )
    return [
        f"DOFS cost: stack {m.stack} in {m.region}, {window.workflow.setup.workflow_type} workflow, "
        f"{window.units} orders measured in {window.wall_seconds:.0f} s on the local stack",
        f"orders: {window.units} sent, {m.accepted} accepted; final: {finals}",
        f"priced in {bill.region} (prices read {READ}), free tiers left out; per order = per order sent",
    ]


def function_rows(bill: Bill) -> list[Row]:
    orders = Decimal(bill.measurement.orders.units)
    rows: list[Row] = []
    for function in bill.measurement.orders.functions:
        if not function.invocations:
            continue
        setup = function.setup
        rows.append(
            [
                setup.name,
                f"{setup.memory_mb} MB",
                quantity(function.invocations / orders),
                f"{function.seconds * 1000 / function.invocations:.1f}",
                f"{setup.init_ms}",
                f"{function.log_bytes / function.invocations:.0f}",
            ]
        )
    return rows


def _ceiling_text(limit: Limit, binding: Limit) -> str:
    ceiling = limit.ceiling
    text = f"{ceiling:,.1f}" if ceiling is not None else "none used"
    if limit is binding:
        return text + " <- binding"
    return text if limit.quota.sustained else text + " (not sustained)"


def ceiling_rows(bill: Bill, notes: Footnotes) -> list[Row]:
    binding = bill.binding
    ordered = sorted(
        bill.limits, key=lambda lim: lim.ceiling if lim.ceiling is not None else Decimal("Infinity")
    )
    rows: list[Row] = []
    for limit in ordered:
        source = limit.quota.source + (f"; {limit.quota.note}" if limit.quota.note else "")
        rows.append(
            [
                f"{limit.name} {notes.mark(source)}",
                f"{limit.quota.value:,} {limit.quota.unit}",
                f"{quantity(limit.use)} {limit.use_unit}",
                _ceiling_text(limit, binding),
            ]
        )
    return rows


def method_notes(bill: Bill) -> list[str]:
    m = bill.measurement
    window, workflow = m.orders, m.orders.workflow
    failed = sum(
        n for (_, _, outcome), n in window.tally.dynamodb.operations.items() if outcome == "condition failed"
    )
    return [
        "How it was measured (conservative readings):",
        "- Step Functions: every *StateEntered event is a transition (Choice, Succeed, Fail too), each task"
        f" retry one more ({workflow.retries} seen); the start is not one. EXPRESS: a request per"
        " StartExecution, duplicates included; duration from start to stop in 100 ms units, memory in"
        " 64 MB units.",
        "- Lambda: wall time of each in-process invocation, rounded up to 1 ms, at the function's memory"
        " (local times include the emulator's overhead). INIT: 90 ms runtime start (lambda-perf p90) plus"
        " the CPU time of the handler's import in a fresh interpreter, once every"
        f" {m.cold_start_every} invocations (AWS reports cold starts in under 1% of invocations: AWS Compute"
        " Blog, 'Operating Lambda: Performance optimization - Part 1').",
        "- DynamoDB: units from the real items before and after each write, by AWS's size rules; an update"
        " costs the larger item; index writes from the table's real indexes; a conditional write that fails"
        f" costs the item already there ({failed} such writes); reads in 4 KB units, half if eventually"
        " consistent.",
        f"- SQS: every request at the emulator, in 64 KB units; the {window.tally.sqs_empty_receives} empty"
        " receives of the local pollers are left out: AWS's pollers long-poll even when idle, a fixed cost"
        " per month, not per order. Orders are sent one after another by default, so a fulfillment batch"
        " often holds one message: more invocations per order than at a high rate (conservative).",
        "- Logs: the handlers' lines, the runtime's error reports, Lambda's platform lines (unless the system"
        " log level drops them) and Step Functions' events at the state machine's level; 26 bytes per event;"
        " decimal GB; storage uncompressed over the stack's retention.",
        "- X-Ray: a trace per entry point (API request, execution, SQS or scheduled invocation), sampled by"
        f" {m.sampling.source}, the reservoir taken at the binding ceiling's rate.",
        "- Ceiling: each quota over the use per order; Lambda concurrency sums every function's busy seconds"
        " (INIT included). DynamoDB's new-table limit is shown, but it rises with traffic and never binds.",
    ]


def render(bill: Bill, *, markdown: bool = False) -> str:
    def section(title: str) -> list[str]:
        return ["", f"**{title}**", ""] if markdown else ["", title]

    def listed(texts: list[str]) -> list[str]:
        return [f"- {text}" for text in texts] if markdown else texts

    lines = listed(header_lines(bill))
    lines += section("Lambda functions as measured:")
    function_header = ["function", "memory", "invocations per order", "mean ms", "INIT ms", "log bytes each"]
    lines += table(function_header, function_rows(bill), markdown=markdown, numeric_from=1)
    prices = Footnotes()
    lines += section("Per order:")
    item_rows = _item_rows(bill.items, prices, per_month=False)
    lines += table(
        ["service", "item", "per order", "unit price", "$ per 1M orders"],
        item_rows,
        markdown=markdown,
        numeric_from=2,
    )
    lines += ["", f"total per million orders: {dollars(bill.per_million)}"]
    if bill.fixed:
        lines += section("Fixed, per month (30 days):")
        fixed_rows = _item_rows(bill.fixed, prices, per_month=True)
        lines += table(
            ["service", "item", "per month", "unit price", "$ per month"],
            fixed_rows,
            markdown=markdown,
            numeric_from=2,
        )
        lines += [
            "",
            f"fixed per month: {dollars(bill.fixed_per_month)}; total per million orders with it, at "
            f"{bill.monthly_orders:,} orders a month: {dollars(bill.per_million_with_fixed)}",
        ]
    lines += [*section("Price sources:"), *listed(prices.lines())]
    quotas = Footnotes()
    lines += section(f"Sustained ceiling in {bill.region}:")
    ceiling_header = ["limit", "quota", "use per order", "orders/s"]
    lines += table(ceiling_header, ceiling_rows(bill, quotas), markdown=markdown, numeric_from=1)
    binding = bill.binding
    lines += ["", f"binding: {binding.name} at {binding.ceiling:,.1f} orders/s"]
    lines += [*section("Quota sources:"), *listed(quotas.lines()), ""]
    lines += method_notes(bill)
    return "\n".join(lines)
