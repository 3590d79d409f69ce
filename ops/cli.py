"""Command line of the operator commands.

python -m ops redrive --outputs FILE [--endpoint-url URL] [--order-id ID ...] [--dlq] [--dry-run]

FILE holds the stack's outputs as JSON: ``pulumi stack output --json > FILE`` for a
deployed stack, or what ``make run`` writes (build/local/<stack>-outputs.json), which
also names the local emulator's endpoint and region.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from handlers.errors import DofsError
from handlers.order_queue import OrderQueue
from handlers.repository import FailedOrderRepository, OrderRepository
from ops.redrive import OrderRedrive, move_dlq_messages

REQUIRED_OUTPUTS = ("orders_table_name", "failed_orders_table_name", "order_queue_url", "order_dlq_url")


class UsageError(Exception):
    """A bad command line or outputs file; printed as one ``error:`` line."""


def redrive_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ops redrive",
        description="Send FULFILLMENT_FAILED orders (with --dlq, the DLQ's messages too) back to the queue.",
    )
    parser.add_argument("--outputs", type=Path, required=True, help="the stack outputs as JSON")
    parser.add_argument("--endpoint-url", help="AWS endpoint (default: the local stack's, from --outputs)")
    parser.add_argument("--region", help="AWS region (default: the environment's)")
    parser.add_argument("--order-id", action="append", dest="order_ids", help="only this order (repeatable)")
    parser.add_argument("--dlq", action="store_true", help="also move the DLQ's waiting messages")
    parser.add_argument("--dry-run", action="store_true", help="report what would move; change nothing")
    return parser


LOCAL_OUTPUTS = ("aws_endpoint", "aws_region")  # written by the local stack only


def read_outputs(path: Path) -> dict[str, str]:
    try:
        outputs: Any = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"--outputs {path}: cannot read stack outputs ({exc})") from None
    if not isinstance(outputs, dict):
        raise UsageError(f"--outputs {path}: expected a JSON object of stack outputs")
    missing = [name for name in REQUIRED_OUTPUTS if not outputs.get(name)]
    if missing:
        raise UsageError(f"--outputs {path}: missing {', '.join(missing)}")
    return {name: str(outputs[name]) for name in (*REQUIRED_OUTPUTS, *LOCAL_OUTPUTS) if outputs.get(name)}


def _session(args: argparse.Namespace, outputs: dict[str, str]) -> tuple[boto3.session.Session, str | None]:
    """A session for the stack: a local stack's emulator accepts any credentials."""
    endpoint = args.endpoint_url or outputs.get("aws_endpoint")
    region = args.region or outputs.get("aws_region")
    if "aws_endpoint" in outputs and endpoint == outputs["aws_endpoint"]:
        local = boto3.session.Session(
            aws_access_key_id="local", aws_secret_access_key="local", region_name=region
        )
        return local, endpoint
    return boto3.session.Session(region_name=region), endpoint


def redrive(args: argparse.Namespace, out: TextIO) -> int:
    outputs = read_outputs(args.outputs)
    session, endpoint = _session(args, outputs)
    dynamodb = session.resource("dynamodb", endpoint_url=endpoint)
    sqs = session.client("sqs", endpoint_url=endpoint)
    service = OrderRedrive(
        OrderRepository(outputs["orders_table_name"], dynamodb),
        FailedOrderRepository(outputs["failed_orders_table_name"], dynamodb),
        OrderQueue(outputs["order_queue_url"], sqs),
    )
    report = service.redrive(args.order_ids, dry_run=args.dry_run)
    if args.dlq and not args.dry_run:
        report.dlq_messages_moved = move_dlq_messages(
            sqs, outputs["order_dlq_url"], outputs["order_queue_url"]
        )
    for line in report.lines(dry_run=args.dry_run):
        print(line, file=out)
    return 1 if report.errors else 0


def main(argv: list[str], out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    if not argv or argv[0] != "redrive":
        print("usage: python -m ops redrive --outputs FILE [options]  (see --help)", file=err)
        return 2
    args = redrive_parser().parse_args(argv[1:])
    try:
        return redrive(args, out)
    except UsageError as exc:
        print(f"error: {exc}", file=err)
        return 2
    except (DofsError, ClientError, BotoCoreError) as exc:
        print(f"error: redrive stopped: {exc}", file=err)
        return 1
