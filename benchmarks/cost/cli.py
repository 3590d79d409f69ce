"""python -m benchmarks.cost [--stack dev|prod] [--orders 500] [--markdown] ...

Runs orders through the local stack with the stack's settings, measures what they use,
prices it with the repository's price table, and prints the line items, the total per
million orders and the sustained ceiling in orders per second.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import TextIO

from benchmarks.cost.bill import make_bill
from benchmarks.cost.errors import CostError
from benchmarks.cost.pricing import prices_for
from benchmarks.cost.quotas import quotas_for
from benchmarks.cost.report import render
from benchmarks.cost.session import CostOptions, CostSession
from components.config import REGION_KEY, StackConfigError
from local.console import configure_logging
from local.errors import LocalStackError
from local.pulumi_runner import PROJECT_ROOT, add_config_option, stack_config

LOG_FILE = PROJECT_ROOT / "build" / "local" / "cost.log"


def _at_least_one(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{raw!r}: expected a whole number of at least 1")
    return value


def _share(raw: str) -> Decimal:
    try:
        value = Decimal(raw)
    except InvalidOperation:
        value = Decimal(-1)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"{raw!r}: expected a share from 0 to below 1, e.g. 0.1")
    return value


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cost", description=__doc__.split("\n\n")[1])
    parser.add_argument(
        "--stack", default="dev", help="the stack whose settings run (Pulumi.<stack>.yaml; dev)"
    )
    parser.add_argument("--orders", type=_at_least_one, default=500, help="orders to run (default 500)")
    parser.add_argument(
        "--rejected-share", type=_share, default=Decimal("0.1"), help="share with a wrong total (default 0.1)"
    )
    parser.add_argument("--clients", type=_at_least_one, default=1, help="concurrent clients (default 1)")
    parser.add_argument("--seed", type=int, default=1, help="which orders get a wrong total (default 1)")
    add_config_option(parser, "a stack setting for this run only, e.g. dofs:workflowType=EXPRESS")
    parser.add_argument("--region", help="price and bound in this region (default: the stack's)")
    parser.add_argument(
        "--monthly-orders",
        type=_at_least_one,
        default=1_000_000,
        help="orders a month, to spread the fixed costs over (default 1,000,000)",
    )
    parser.add_argument(
        "--cold-start-every", type=_at_least_one, default=100, help="invocations per cold start (default 100)"
    )
    parser.add_argument(
        "--scheduled-runs", type=_at_least_one, default=3, help="runs of each schedule to measure (default 3)"
    )
    parser.add_argument(
        "--init-samples", type=_at_least_one, default=3, help="fresh imports per handler for INIT (default 3)"
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for every order to end")
    parser.add_argument("--markdown", action="store_true", help="print the tables as markdown")
    return parser


def options_from(args: argparse.Namespace) -> CostOptions:
    return CostOptions(
        stack=args.stack,
        orders=args.orders,
        rejected_share=args.rejected_share,
        clients=args.clients,
        seed=args.seed,
        config=dict(args.config),
        scheduled_runs=args.scheduled_runs,
        init_samples=args.init_samples,
        cold_start_every=args.cold_start_every,
        settle_timeout_seconds=args.timeout,
    )


def pricing_region(options: CostOptions, region: str | None) -> str:
    """The region to price in: the one asked for, or the stack's; checked before anything runs."""
    chosen = region or {**stack_config(options.stack), **options.config}.get(REGION_KEY, "")
    prices_for(chosen)
    quotas_for(chosen)
    return chosen


def main(argv: Sequence[str], out: TextIO = sys.stdout) -> int:
    args = parser().parse_args(argv)
    options = options_from(args)
    try:
        region = pricing_region(options, args.region)
        log_stream = configure_logging(LOG_FILE, out)
        print(
            f"cost: {options.orders} orders through the local stack '{options.stack}'; logs in {LOG_FILE}",
            file=out,
        )
        with contextlib.redirect_stdout(log_stream), CostSession(options) as session:
            measurement = session.measure()
        bill = make_bill(measurement, region, args.monthly_orders)
    except (CostError, LocalStackError, StackConfigError) as exc:
        print(f"error: {exc}", file=out)
        return 1
    print(render(bill, markdown=args.markdown), file=out)
    return 0
