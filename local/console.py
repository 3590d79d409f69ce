"""What ``make run`` shows on the terminal: a banner, live order counters and one-line
problem reports; everything else (handler logs, tracebacks, emulator requests) goes to
the local log file."""

from __future__ import annotations

import logging
import shlex
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from botocore.client import BaseClient

from handlers.models import TERMINAL_STATUSES, OrderStatus
from local.api_key import API_KEY_HEADER, first_api_key
from local.stack import LocalStack

STATUS_INTERVAL_SECONDS = 2.0
STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"


@dataclass(frozen=True)
class OrderCounts:
    received: int = 0
    in_progress: int = 0
    fulfilled: int = 0
    failed: int = 0
    rejected: int = 0
    in_dlq: int = 0  # dead letters dlq_processor has not recorded yet (it drains in seconds)

    def line(self) -> str:
        return (
            f"received {self.received}  in progress {self.in_progress}  fulfilled {self.fulfilled}  "
            f"failed {self.failed}  rejected {self.rejected}  waiting in DLQ {self.in_dlq}"
        )


def count_statuses(dynamodb: BaseClient, table_name: str) -> Counter[str]:
    statuses: Counter[str] = Counter()
    for page in dynamodb.get_paginator("scan").paginate(
        TableName=table_name, ProjectionExpression="#s", ExpressionAttributeNames={"#s": "status"}
    ):
        statuses.update(item.get("status", {}).get("S", "") for item in page["Items"])
    return statuses


def queue_depth(sqs: BaseClient, queue_url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def read_counts(stack: LocalStack, dynamodb: BaseClient, sqs: BaseClient) -> OrderCounts:
    statuses = count_statuses(dynamodb, stack.outputs["orders_table_name"])
    received = sum(statuses.values())
    return OrderCounts(
        received=received,
        in_progress=received - sum(statuses[s] for s in TERMINAL_STATUSES),
        fulfilled=statuses[OrderStatus.FULFILLED],
        failed=statuses[OrderStatus.FULFILLMENT_FAILED],
        rejected=statuses[OrderStatus.REJECTED],
        in_dlq=queue_depth(sqs, stack.outputs["order_dlq_url"]),
    )


class StatusBoard(threading.Thread):
    """Prints the counters when they change, at most once per interval."""

    def __init__(self, stack: LocalStack, out: TextIO, interval: float = STATUS_INTERVAL_SECONDS) -> None:
        super().__init__(name="status-board", daemon=True)
        self.stack, self.out, self.interval = stack, out, interval
        self.dynamodb, self.sqs = stack.client("dynamodb"), stack.client("sqs")
        self._stopping = threading.Event()
        self.last = OrderCounts()

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=self.interval + 5)

    def run(self) -> None:
        while not self._stopping.wait(self.interval):
            try:
                counts = read_counts(self.stack, self.dynamodb, self.sqs)
            except Exception:
                logging.getLogger("dofs.local").exception("could not read the order counters")
                continue
            if counts != self.last:
                self.last = counts
                print(f"{time.strftime('%H:%M:%S')}  {counts.line()}", file=self.out, flush=True)


class OneLineFormatter(logging.Formatter):
    """The message only; a traceback is left to the log file, which the line points to."""

    def __init__(self, log_file: Path) -> None:
        super().__init__("%(asctime)s  %(levelname)s  %(message)s", datefmt="%H:%M:%S")
        self.log_file = log_file

    def format(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(self._prepared(record))
        return f"{line} (traceback in {self.log_file})" if record.exc_info else line

    def _prepared(self, record: logging.LogRecord) -> logging.LogRecord:
        record.message = record.getMessage()
        record.asctime = self.formatTime(record, self.datefmt)
        return record


def configure_logging(log_file: Path, console: TextIO) -> TextIO:
    """All records to ``log_file``, and the local stack's warnings to the console as one line.

    Returns the log file's stream, so handler output printed to stdout can join it.
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    stream = log_file.open("w", encoding="utf-8", buffering=1)
    to_file = logging.StreamHandler(stream)
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(to_file)
    root.setLevel(logging.INFO)
    to_console = logging.StreamHandler(console)
    to_console.setLevel(logging.WARNING)
    to_console.setFormatter(OneLineFormatter(log_file))
    logging.getLogger("dofs.local").addHandler(to_console)
    return stream


SAMPLE_ORDER_LINES = (
    '"customer_id": "cust_123",',
    '"items": [{"product_id": "prod_001", "quantity": 2, "price": 29.99}],',
    '"total_amount": 59.98,',
    '"shipping_address": {"street": "123 Main St", "city": "Anytown", "state": "CA", "zip": "12345"}',
)


def banner(stack: LocalStack, log_file: Path, outputs_file: Path, console_url: str | None = None) -> str:
    """What ``make run`` prints once the stack is up: each command in it runs as printed
    (tests/integration/test_documented_commands.py runs them)."""
    endpoint, outputs = stack.aws_endpoint, stack.outputs
    api, aws = stack.api_url, f".venv/bin/aws --endpoint-url {endpoint}"
    key_option = _curl_auth(stack)
    lines = [
        f"DOFS is running locally (stack '{stack.options.stack}', region {stack.region}).",
        "",
        f"  Order API      {api}",
        *_api_key_lines(outputs),
        f"  AWS emulator   {endpoint}",
        f"  Log file       {log_file}",
        *([f"  Console        {console_url}"] if console_url else []),
        "",
        "Place an order (the answer is 202 with its order_id), then look it up:",
        f"  curl -s -i -X POST {api}/order{key_option} -H 'Content-Type: application/json' -d '{{",
        *(f"      {line}" for line in SAMPLE_ORDER_LINES[:-1]),
        f"      {SAMPLE_ORDER_LINES[-1]}}}'",
        f"  curl -s{key_option} {api}/orders/<order_id>",
        "",
        "Look inside with the AWS CLI in .venv (any credentials will do):",
        f"  export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION={stack.region}",
        f"  {aws} dynamodb scan --table-name {outputs['orders_table_name']}",
        *_workflow_lines(stack, aws),
        f"  {aws} sqs get-queue-attributes --attribute-names All --queue-url {outputs['order_queue_url']}",
        "",
        *_smoke_lines(stack),
        "Send final failures round again (add --dry-run to look first):",
        f'  make redrive ARGS="--outputs {shlex.quote(str(outputs_file))}"',
        "",
        *_schedule_lines(stack),
        *_not_served_lines(stack),
        "",
        *_fault_lines(stack),
        "Ctrl-C stops everything. Counters follow as orders flow:",
    ]
    return "\n".join(lines)


def _curl_auth(stack: LocalStack) -> str:
    """What curl adds to get in: the API key (api_key), a SigV4 signature (iam) or nothing."""
    key = first_api_key(stack.outputs)
    if key:
        return f" -H {shlex.quote(f'{API_KEY_HEADER}: {key}')}"
    if "api_execute_arn" in stack.outputs:
        return f" --aws-sigv4 'aws:amz:{stack.region}:execute-api' --user local:local"
    return ""


def _api_key_lines(outputs: dict[str, object]) -> list[str]:
    """The keys of a stack whose dofs:apiAuth is api_key, one per client."""
    keys = outputs.get("api_keys")
    if not isinstance(keys, dict):
        return []
    return [
        f"  API key        {value} (client {client}; send it as {API_KEY_HEADER})"
        for client, value in keys.items()
    ]


def _workflow_lines(stack: LocalStack, aws: str) -> list[str]:
    """How to look at the workflow: STANDARD lists its executions; EXPRESS, as on AWS, does not."""
    arn = stack.outputs["state_machine_arn"]
    (machine,) = stack.declared(STATE_MACHINE)
    if machine.inputs.get("type") == "EXPRESS":
        return [
            f"  {aws} stepfunctions describe-state-machine --state-machine-arn {arn}",
            "(EXPRESS: as on AWS, executions cannot be listed or described; the orders show progress)",
        ]
    return [f"  {aws} stepfunctions list-executions --state-machine-arn {arn}"]


def _smoke_lines(stack: LocalStack) -> list[str]:
    """``make smoke`` for this stack: its settings, and this run's overrides, predict the outcome."""
    arguments = ["--stack", stack.options.stack]
    for key, value in stack.options.config.items():
        arguments += ["--config", f"{key}={value}"]
    api_key = first_api_key(stack.outputs)
    if api_key:
        arguments += ["--api-key", api_key]
    faults = " (injected faults will fail some)" if stack.options.faults is not None else ""
    return [
        f"Run the smoke scenarios against this stack{faults}:",
        f'  make smoke URL={stack.api_url} ARGS="{shlex.join(arguments)}"',
    ]


def _fault_lines(stack: LocalStack) -> list[str]:
    plan = stack.options.faults
    if plan is None:
        return []
    rates = ", ".join(f"{point.value}={rate:g}" for point, rate in sorted(plan.rates.items())) or "none"
    seed = f", seed {plan.seed}" if plan.seed is not None else ""
    return [f"!!! FAULT INJECTION ON: {rates}{seed}. Failures are injected on purpose. !!!", ""]


def _schedule_lines(stack: LocalStack) -> list[str]:
    if not stack.schedules:
        return []
    lines = ["Schedules run locally (EventBridge rule -> function):"]
    for invoker in stack.schedules:
        schedule = invoker.schedule
        lines.append(
            f"  {schedule.rule_name} -> {schedule.function_name}, every {schedule.interval_seconds:g} s"
        )
    return [*lines, ""]


def _not_served_lines(stack: LocalStack) -> list[str]:
    grouped: dict[tuple[str, str], list[str]] = {}
    for resource, reason in stack.not_served():
        grouped.setdefault((resource.type, reason), []).append(resource.name)
    lines = [
        f"Declared but not run locally ({sum(len(n) for n in grouped.values())} of {len(stack.resources)}):"
    ]
    for (typ, reason), names in sorted(grouped.items()):
        lines.append(f"  {typ} ({', '.join(names)}): {reason}")
    return lines
