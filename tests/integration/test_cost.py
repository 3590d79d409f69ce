"""``make cost`` on 20 dev orders: what it counted agrees with what the run shows.

The same session the command runs (benchmarks/cost/cli.py), with the witnesses read
while the stack is still up: the runtime's record of every invocation, the handlers' own
log lines (each names its service), the tables' final items and the executions.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections import Counter
from typing import Any

import pytest

from benchmarks.cost.bill import make_bill
from benchmarks.cost.measurement import Measurement
from benchmarks.cost.report import render
from benchmarks.cost.session import CostOptions, CostSession
from benchmarks.cost.tally import Tally
from handlers.models import OrderStatus

ORDERS = 20
SMALL = CostOptions(stack="dev", orders=ORDERS, init_samples=1, scheduled_runs=2, settle_timeout_seconds=120)


def service_of(function_name: str) -> str:
    """dofs-fulfill-order-dev -> fulfill_order, as the handler names itself in its log lines."""
    return function_name.removeprefix("dofs-").removesuffix("-dev").replace("-", "_")


EMF = "EMF metrics"  # the business metrics' lines: no level, and the stack's service name


def handler_lines(output: str) -> Counter[str]:
    lines = Counter[str]()
    for line in output.splitlines():
        with contextlib.suppress(ValueError):
            document = json.loads(line)
            if isinstance(document, dict) and "_aws" in document:
                lines[EMF] += 1
            elif isinstance(document, dict) and "service" in document:
                lines[document["service"]] += 1
    return lines


def scan(session: CostSession, output: str) -> list[dict[str, Any]]:
    pages = session.client("dynamodb").get_paginator("scan").paginate(TableName=session.stack.outputs[output])
    return [item for page in pages for item in page["Items"]]


@pytest.fixture(scope="module")
def run() -> dict[str, Any]:
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout), CostSession(SMALL) as session:
        measurement = session.measure()
        invoked = Counter(i.function_name for i in session.stack.runtime.invocations)
        orders, failed = scan(session, "orders_table_name"), scan(session, "failed_orders_table_name")
        machine = str(session.stack.outputs["state_machine_arn"])
        executions = session.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"]
        tables = (
            session.stack.outputs["orders_table_name"],
            session.stack.outputs["failed_orders_table_name"],
        )
    return {
        "measurement": measurement,
        "invoked": invoked,
        "lines": handler_lines(stdout.getvalue()),
        "orders": orders,
        "failed": failed,
        "executions": executions,
        "tables": tables,
    }


def tallies(measurement: Measurement) -> list[Tally]:
    return [measurement.orders.tally, *(work.window.tally for work in measurement.scheduled)]


def test_invocations_per_function_are_the_runs_invocations(run: dict[str, Any]) -> None:
    measurement: Measurement = run["measurement"]
    counted = Counter[str]()
    for tally in tallies(measurement):
        counted.update({name: counts.invocations for name, counts in tally.functions.items()})
    assert counted == run["invoked"]
    assert counted["dofs-api-handler-dev"] == ORDERS
    assert counted["dofs-reconciler-dev"] == SMALL.scheduled_runs
    assert all(f.billed_ms >= f.invocations for f in measurement.orders.functions)


def test_log_lines_are_counted_to_the_function_that_wrote_them(run: dict[str, Any]) -> None:
    counted = Counter[str]()
    for tally in tallies(run["measurement"]):
        for name, counts in tally.functions.items():
            without_level = counts.log_events[""]
            counted[service_of(name)] += sum(counts.log_events.values()) - counts.errors - without_level
            counted[EMF] += without_level
    assert counted == run["lines"]
    assert counted[EMF] > 0
    assert counted["api_handler"] >= ORDERS


def test_table_writes_agree_with_the_final_items(run: dict[str, Any]) -> None:
    orders_table, failed_table = run["tables"]
    operations = run["measurement"].orders.tally.dynamodb.operations
    write_units = run["measurement"].orders.tally.dynamodb.write_units
    assert len(run["orders"]) == ORDERS
    assert operations[(orders_table, "put", "ok")] == len(run["orders"])  # each order put once
    assert operations[(failed_table, "put", "ok")] == len(run["failed"])  # each failure recorded once
    rejected = sum(1 for item in run["orders"] if item["status"]["S"] == OrderStatus.REJECTED)
    assert rejected == round(ORDERS * SMALL.rejected_share)
    writes = sum(
        n
        for (table, operation, outcome), n in operations.items()
        if table == orders_table and operation in ("put", "update", "delete") and outcome == "ok"
    )
    assert write_units[(orders_table, "")] >= writes  # at least a unit per write


def test_the_workflow_ran_once_per_order(run: dict[str, Any]) -> None:
    measurement: Measurement = run["measurement"]
    workflow = measurement.orders.workflow
    assert workflow.executions == workflow.start_requests == len(run["executions"]) == ORDERS
    assert workflow.transitions >= 4 * ORDERS  # no path through the definition enters fewer states
    assert measurement.orders.tally.api_requests == ORDERS
    assert measurement.outcomes.total() == measurement.accepted == ORDERS


def test_the_report_prints_a_total_and_a_binding_limit(run: dict[str, Any]) -> None:
    text = render(make_bill(run["measurement"], "ap-south-1", 1_000_000))
    assert "total per million orders: $" in text
    # Four states entered per order at 800 transitions/s allow 200 orders/s, so the 150
    # StartExecution/s of ap-south-1 bind first (Step Functions service quotas page).
    assert "binding: StartExecution (STANDARD) at 150.0 orders/s" in text
