"""``python -m local resources`` (``make resources``): every resource of each stack, with the
settings that differ between the stacks."""

from __future__ import annotations

import io
import re

from local.recorded_program import ProgramRun, record_program
from local.resources import differing_settings, listing, main


def _rows(lines: list[str], stack: str) -> list[str]:
    """The resource rows under ``stack``'s heading and column titles."""
    start = next(i for i, line in enumerate(lines) if line.startswith(f"stack {stack}:")) + 2
    end = next((i for i in range(start, len(lines)) if not lines[i]), len(lines))
    return lines[start:end]


def _row(rows: list[str], typ: str, name: str) -> str:
    (row,) = [row for row in rows if row.split()[:2] == [typ, name]]
    return row


def test_each_stack_lists_every_resource_once_with_type_and_names(
    dev_run: ProgramRun, prod_run: ProgramRun
) -> None:
    lines = listing([dev_run, prod_run])

    for run in (dev_run, prod_run):
        rows = _rows(lines, run.stack)
        assert sorted(row.split()[:2] for row in rows) == sorted([r.type, r.name] for r in run.resources)
        assert _row(rows, "aws:dynamodb/table:Table", "orders").split()[2] == f"dofs-orders-{run.stack}"


def test_the_settings_shown_are_those_that_differ_between_dev_and_prod(
    dev_run: ProgramRun, prod_run: ProgramRun
) -> None:
    lines = listing([dev_run, prod_run])
    dev, prod = _rows(lines, "dev"), _rows(lines, "prod")

    table = ("aws:dynamodb/table:Table", "orders")
    assert _row(dev, *table).endswith("deletionProtectionEnabled=false pointInTimeRecovery.enabled=false")
    assert _row(prod, *table).endswith("deletionProtectionEnabled=true pointInTimeRecovery.enabled=true")
    fulfill = ("aws:lambda/function:Function", "fulfill-order")
    assert _row(dev, *fulfill).endswith("loggingConfig.systemLogLevel=INFO timeout=5")
    assert _row(prod, *fulfill).endswith("loggingConfig.systemLogLevel=WARN timeout=30")
    queue = ("aws:sqs/queue:Queue", "order-queue")
    assert _row(dev, *queue).endswith("redrivePolicy.maxReceiveCount=3 visibilityTimeoutSeconds=30")
    assert _row(prod, *queue).endswith("redrivePolicy.maxReceiveCount=5 visibilityTimeoutSeconds=180")
    # Names that only carry the stack's name, and settings both stacks share, are not differences.
    assert _row(dev, "aws:sqs/queue:Queue", "order-dlq").endswith("dofs-order-dlq-dev")
    assert _row(prod, "aws:iam/rolePolicy:RolePolicy", "fulfill-order-policy").endswith("-")


def test_one_override_differs_in_that_setting_and_what_derives_from_it(dev_run: ProgramRun) -> None:
    more_receives = record_program("dev", {"dofs:maxReceiveCount": "7"})

    differing = {key: paths for key, paths in differing_settings([dev_run, more_receives]).items() if paths}

    assert differing == {
        ("aws:sqs/queue:Queue", "order-queue"): ["redrivePolicy.maxReceiveCount"],
        # the reconciler waits out every redelivery before it re-enqueues a pending order,
        # and a new order is due only once they are over
        ("aws:lambda/function:Function", "reconciler"): [
            "environment.variables.RECONCILE_PENDING_AFTER_SECONDS"
        ],
        ("aws:lambda/function:Function", "api-handler"): ["environment.variables.ORDER_DUE_SECONDS"],
    }


def test_the_command_lists_the_stacks_asked_for() -> None:
    out = io.StringIO()

    assert main(["dev"], out) == 0

    lines = out.getvalue().splitlines()
    assert re.fullmatch(r"stack dev: \d+ resources \(\d+ AWS, \d+ components\); one stack", lines[0])
    assert not [line for line in lines if line.startswith("stack prod")]
    assert _row(_rows(lines, "dev"), "aws:sqs/queue:Queue", "order-queue").endswith("dofs-order-queue-dev")


def test_an_unknown_stack_or_an_option_is_a_one_line_error() -> None:
    out, err = io.StringIO(), io.StringIO()

    assert main(["dev", "staging"], out, err) == 2
    assert main(["--all"], out, err) == 2

    assert out.getvalue() == ""
    first, second = err.getvalue().splitlines()
    assert first.startswith("error: unknown stack 'staging'") and "(stacks: dev, prod)" in first
    assert second.startswith("usage: python -m local resources [STACK ...]")
