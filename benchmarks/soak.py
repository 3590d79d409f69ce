"""Soak: many orders through the local stack, with faults on, then check the promises.

    python -m benchmarks.soak [--stack dev|prod] [--orders 2000] [--clients 8] [--seed 1] [--no-faults]

Starts the local stack in this process with a fault plan (transient errors in every
step, DynamoDB throttling, failing workflow starts and enqueues, crashes before the
ack, duplicate SQS deliveries, EXPRESS executions run twice), drives it over
HTTP from concurrent clients with a mix of valid orders, invalid ones, client
retries with the same Idempotency-Key,
concurrent duplicates and key reuse with another body, waits until every accepted
order is final and both queues are empty, and checks against the emulator's tables,
queues and executions:

- lost: an order answered 202 that has no record;
- stuck: an order answered 202 that is not FULFILLED, FULFILLMENT_FAILED or REJECTED
  when the time is up;
- doubled: an order fulfilled more than once (counted from fulfill_order's own log
  records), an order with more than one STANDARD execution (an EXPRESS workflow may
  run one order twice, by design), or one Idempotency-Key that got two order ids or was
  accepted again with another body;
- bad input stored: an invalid request that left an order behind, or got a 5xx.

Exit status 0 when all of those are 0 and every order ended as it should.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import random
import statistics
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, TextIO

from handlers import fulfill_order
from handlers.faults import FaultPlan, FaultPoint
from handlers.models import TERMINAL_STATUSES, OrderStatus
from handlers.order_intake import order_id_for
from local.api_key import add_api_key_option, api_key_headers, first_api_key
from local.console import configure_logging, queue_depth
from local.pulumi_runner import PROJECT_ROOT
from local.smoke import encode_json, valid_order_body
from local.stack import LocalStack, LocalStackOptions

DEFAULT_FAULT_RATES: dict[FaultPoint, float] = {
    FaultPoint.API_HANDLER: 0.02,
    FaultPoint.VALIDATOR: 0.05,
    FaultPoint.ORDER_STORAGE: 0.05,
    FaultPoint.FULFILL_ORDER: 0.05,
    FaultPoint.DLQ_PROCESSOR: 0.05,
    FaultPoint.RECONCILER: 0.1,
    FaultPoint.DYNAMODB_THROTTLE: 0.01,
    FaultPoint.WORKFLOW_START: 0.05,
    FaultPoint.CRASH_BEFORE_ACK: 0.05,
    FaultPoint.DUPLICATE_DELIVERY: 0.1,
    FaultPoint.ENQUEUE: 0.05,
    FaultPoint.DUPLICATE_EXECUTION: 0.1,  # EXPRESS only
}
# Short timeouts so that retries and the reconciler's deadlines pass in seconds, not minutes:
# SQS redelivers after 6 s, the DLQ after 12 s, a stale order is driven on after 6 s, and
# an execution times out after 20 s (the reconciler gives up only after 4 x 6 s).
SOAK_CONFIG = {
    "dofs:fulfillTimeoutSeconds": "1",
    "dofs:lambdaTimeoutSeconds": "2",
    "dofs:reconcileAfterSeconds": "6",
    "dofs:workflowTimeoutSeconds": "20",
}
SCHEDULE_EVERY_SECONDS = 2.0
CLIENT_ATTEMPTS = 8
CONCURRENT_DUPLICATES = 4
HTTP_TIMEOUT_SECONDS = 35
QUIET_POLL_SECONDS = 2.0

# Bad input of every kind the API must refuse with a 4xx, as (content type, body bytes).
BAD_REQUESTS: tuple[tuple[str, bytes], ...] = (
    ("application/json", b'{"customer_id": "c", "items": ['),
    ("application/json", b'["not", "an", "object"]'),
    ("text/plain", b'{"customer_id": "c"}'),
    ("application/json", b"[" * 5000 + b"]" * 5000),
    ("application/json", b'{"total_amount": NaN}'),
    ("application/json", b'{"total_amount": 1e999999}'),
    ("application/json", b"\xff\xfe{}"),
    ("application/json", b'{"customer_id": "a\\u0000b"}'),
)


class Kind(StrEnum):
    VALID = "valid"
    UNKEYED = "unkeyed"
    RETRIED = "retried"
    CONCURRENT = "concurrent_duplicates"
    KEY_REUSED = "key_reused_with_another_body"
    INVALID = "invalid"
    WRONG_TOTAL = "wrong_total"


MIX: tuple[tuple[Kind, int], ...] = (
    (Kind.VALID, 55),
    (Kind.UNKEYED, 10),
    (Kind.RETRIED, 10),
    (Kind.CONCURRENT, 5),
    (Kind.KEY_REUSED, 5),
    (Kind.INVALID, 10),
    (Kind.WRONG_TOTAL, 5),
)


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    at: float  # wall clock, to compare with the table's timestamps


@dataclass
class Slot:
    """One unit of client work and what the API answered to it."""

    index: int
    kind: Kind
    key: str | None
    answers: list[Answer] = field(default_factory=list)

    def order_ids(self) -> set[str]:
        return {a.body["order_id"] for a in self.answers if a.status == 202}


class FulfillmentLedger(logging.Handler):
    """Counts fulfill_order's own 'fulfilled' records per order: the soak's witness of
    double fulfillment, independent of the table it checks."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.fulfilled: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:  # logging holds the handler's lock
        if getattr(record, "outcome", None) == fulfill_order.FulfillmentOutcome.FULFILLED.value:
            self.fulfilled[str(getattr(record, "order_id", ""))] += 1


class ApiClient:
    def __init__(self, api_url: str, api_key: str | None = None) -> None:
        self.api_url = api_url.rstrip("/")
        self.key_headers = api_key_headers(api_key)

    def post(self, body: bytes, key: str | None, content_type: str = "application/json") -> Answer:
        """POST /order, retried like a careful client: with a key, on any 5xx or a broken
        connection; without one, only on a 503, which the API answers when it stored nothing."""
        headers = {"Content-Type": content_type, **({"Idempotency-Key": key} if key else {})}
        answer = Answer(0, None, time.time())
        for attempt in range(CLIENT_ATTEMPTS):
            answer = self._send("POST", "/order", body, headers)
            if answer.status < 500 and answer.status != 0:
                return answer
            if key is None and answer.status not in (503,):
                return answer  # fate unknown: an unkeyed order must not be sent twice
            time.sleep(min(1.0, 0.1 * 2**attempt))
        return answer

    def get(self, path: str) -> Answer:
        return self._send("GET", path, None, {})

    def _send(self, method: str, path: str, body: bytes | None, headers: Mapping[str, str]) -> Answer:
        request = urllib.request.Request(
            self.api_url + path, body, {**headers, **self.key_headers}, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        except OSError:
            return Answer(0, None, time.time())
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return Answer(status, parsed, time.time())


def plan_slots(orders: int, seed: int) -> list[Slot]:
    rng = random.Random(seed)
    kinds = [kind for kind, weight in MIX for _ in range(weight)]
    slots = []
    for index in range(orders):
        kind = rng.choice(kinds)
        key = None if kind in (Kind.UNKEYED,) else f"soak-{seed}-{index}-{uuid.uuid4()}"
        slots.append(Slot(index, kind, key))
    return slots


def _order_body(slot: Slot, variant: int = 0) -> bytes:
    order = {**valid_order_body(), "customer_id": f"cust_soak_{slot.index}_{variant}"}
    if slot.kind is Kind.WRONG_TOTAL:
        order["total_amount"] += Decimal("0.10")
    return encode_json(order).encode()


def drive(client: ApiClient, slot: Slot) -> Slot:
    if slot.kind is Kind.INVALID:
        content_type, body = BAD_REQUESTS[slot.index % len(BAD_REQUESTS)]
        slot.answers.append(client.post(body, slot.key, content_type))
    elif slot.kind is Kind.CONCURRENT:
        barrier = threading.Barrier(CONCURRENT_DUPLICATES)

        def duplicate() -> Answer:
            barrier.wait(timeout=30)
            return client.post(_order_body(slot), slot.key)

        with ThreadPoolExecutor(CONCURRENT_DUPLICATES) as pool:
            slot.answers.extend(pool.map(lambda _: duplicate(), range(CONCURRENT_DUPLICATES)))
    else:
        slot.answers.append(client.post(_order_body(slot), slot.key))
        if slot.kind is Kind.RETRIED:
            slot.answers.append(client.post(_order_body(slot), slot.key))
        elif slot.kind is Kind.KEY_REUSED:
            slot.answers.append(client.post(_order_body(slot, variant=1), slot.key))
    return slot


@dataclass
class SoakReport:
    requests: int = 0
    accepted: int = 0
    refused: Counter[int] = field(default_factory=Counter)
    final: Counter[str] = field(default_factory=Counter)
    lost: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)
    bad_input_stored: list[str] = field(default_factory=list)
    wrong_outcome: list[str] = field(default_factory=list)
    queues_left: int = 0
    submit_seconds: float = 0.0
    settle_seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    faults: Mapping[FaultPoint, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        problems = (self.lost, self.stuck, self.doubled, self.bad_input_stored, self.wrong_outcome)
        return not any(problems) and self.queues_left == 0 and self.accepted > 0

    def lines(self) -> list[str]:
        p50, p99 = _percentile(self.latencies, 50), _percentile(self.latencies, 99)
        faults = ", ".join(f"{point.value}={rate:g}" for point, rate in sorted(self.faults.items()))
        lines = [
            f"faults: {faults or 'none'}",
            f"requests {self.requests}, accepted {self.accepted} (202), refused "
            + ", ".join(f"{status}: {n}" for status, n in sorted(self.refused.items())),
            "final: " + ", ".join(f"{state} {self.final[state]}" for state in sorted(TERMINAL_STATUSES)),
            f"lost {len(self.lost)}, doubled {len(self.doubled)}, stuck {len(self.stuck)}, "
            f"bad input stored {len(self.bad_input_stored)}, unexpected outcome {len(self.wrong_outcome)}, "
            f"messages left in queues {self.queues_left}",
            f"throughput {self.accepted / self.submit_seconds:.1f} orders/s accepted "
            f"({self.submit_seconds:.1f} s to submit, {self.settle_seconds:.1f} s more until quiet)",
            f"202 -> final: p50 {p50:.2f} s, p99 {p99:.2f} s",
        ]
        for name in ("lost", "stuck", "doubled", "bad_input_stored", "wrong_outcome"):
            examples: list[str] = getattr(self, name)
            if examples:
                lines.append(f"  {name}: {'; '.join(examples[:5])}")
        lines.append("PASS" if self.ok else "FAIL")
        return lines


def _percentile(values: Sequence[float], percent: int) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]


def _timestamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class Emulator:
    """What the soak reads back from the local stack's AWS emulator."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.dynamodb = stack.client("dynamodb")
        self.sqs = stack.client("sqs")
        self.stepfunctions = stack.client("stepfunctions")

    def orders(self) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for page in self.dynamodb.get_paginator("scan").paginate(
            TableName=self.stack.outputs["orders_table_name"], ConsistentRead=True
        ):
            for item in page["Items"]:
                found[item["order_id"]["S"]] = {name: next(iter(v.values())) for name, v in item.items()}
        return found

    def failure_records(self) -> set[str]:
        records: set[str] = set()
        for page in self.dynamodb.get_paginator("scan").paginate(
            TableName=self.stack.outputs["failed_orders_table_name"], ProjectionExpression="order_id"
        ):
            records.update(item["order_id"]["S"] for item in page["Items"])
        return records

    def messages_left(self) -> int:
        urls = (self.stack.outputs["order_queue_url"], self.stack.outputs["order_dlq_url"])
        return sum(queue_depth(self.sqs, url) for url in urls)

    def workflow_type(self) -> str:
        arn = self.stack.outputs["state_machine_arn"]
        return str(self.stepfunctions.describe_state_machine(stateMachineArn=arn)["type"])

    def executions_per_order(self) -> Counter[str]:
        names: Counter[str] = Counter()
        paginator = self.stepfunctions.get_paginator("list_executions")
        for page in paginator.paginate(stateMachineArn=self.stack.outputs["state_machine_arn"]):
            names.update(execution["name"] for execution in page["executions"])
        return names


def wait_until_quiet(emulator: Emulator, accepted: set[str], deadline: float) -> dict[str, dict[str, Any]]:
    # Scanning the table costs the emulator far more than reading two queue depths, and
    # quiet needs empty queues anyway: scan only then (or at the deadline). The 202 to
    # terminal times come from the orders' own timestamps, not from this loop's pace.
    while True:
        out_of_time = time.monotonic() > deadline
        if emulator.messages_left() == 0 or out_of_time:
            orders = emulator.orders()
            if out_of_time or all(orders.get(i, {}).get("status") in TERMINAL_STATUSES for i in accepted):
                return orders
        time.sleep(QUIET_POLL_SECONDS)


def check(
    slots: Sequence[Slot],
    orders: Mapping[str, Mapping[str, Any]],
    emulator: Emulator,
    ledger: FulfillmentLedger,
) -> SoakReport:
    report = SoakReport(requests=sum(len(s.answers) for s in slots))
    accepted_at: dict[str, float] = {}
    for slot in slots:
        _check_slot(slot, orders, report)
        for answer in slot.answers:
            if answer.status == 202:
                accepted_at.setdefault(answer.body["order_id"], answer.at)
            else:
                report.refused[answer.status] += 1
    report.accepted = len(accepted_at)
    failure_records = emulator.failure_records()
    for order_id, at in accepted_at.items():
        item = orders.get(order_id)
        if item is None:
            report.lost.append(order_id)
            continue
        status = str(item["status"])
        if status not in TERMINAL_STATUSES:
            report.stuck.append(f"{order_id} {status}")
            continue
        report.final[status] += 1
        ended = item.get("fulfilled_at") or item.get("failed_at")
        if ended:
            report.latencies.append(max(0.0, _timestamp(str(ended)) - at))
        if status != OrderStatus.FULFILLED and order_id not in failure_records:
            report.wrong_outcome.append(f"{order_id} {status} without a failed-orders record")
    report.doubled += [f"{i} fulfilled {n} times" for i, n in ledger.fulfilled.items() if n > 1]
    if emulator.workflow_type() == "STANDARD":  # EXPRESS lists no executions, and may run one twice
        runs = emulator.executions_per_order().items()
        report.doubled += [f"{i} has {n} executions" for i, n in runs if n > 1]
    report.queues_left = emulator.messages_left()
    return report


def _check_slot(slot: Slot, orders: Mapping[str, Mapping[str, Any]], report: SoakReport) -> None:
    statuses = [a.status for a in slot.answers]
    if slot.kind is Kind.INVALID:
        if not all(400 <= s < 500 for s in statuses):
            report.bad_input_stored.append(f"slot {slot.index}: answered {statuses}")
        if slot.key and order_id_for(slot.key) in orders:
            report.bad_input_stored.append(f"slot {slot.index}: order {order_id_for(slot.key)} stored")
        return
    ids = slot.order_ids()
    if len(ids) > 1:
        report.doubled.append(f"key {slot.key} got orders {sorted(ids)}")
    if slot.kind is Kind.KEY_REUSED and statuses == [202, 202]:
        report.doubled.append(f"key {slot.key} accepted again with another body")
    if slot.kind is Kind.WRONG_TOTAL:
        for order_id in ids:
            status = orders.get(order_id, {}).get("status")
            if status in TERMINAL_STATUSES and status != OrderStatus.REJECTED:
                report.wrong_outcome.append(f"{order_id} with a wrong total ended {status}")


@dataclass(frozen=True)
class SoakOptions:
    stack: str = "dev"
    orders: int = 2000
    clients: int = 8
    seed: int = 1
    faults: Mapping[FaultPoint, float] = field(default_factory=lambda: dict(DEFAULT_FAULT_RATES))
    settle_timeout_seconds: float = 600.0
    config: Mapping[str, str] = field(default_factory=dict)
    api_key: str | None = None  # None: the stack's own first key, when it uses keys


def soak(stack: LocalStack, options: SoakOptions, ledger: FulfillmentLedger) -> SoakReport:
    client = ApiClient(stack.api_url, options.api_key or first_api_key(stack.outputs))
    emulator = Emulator(stack)
    slots = plan_slots(options.orders, options.seed)
    started = time.monotonic()
    with ThreadPoolExecutor(options.clients) as pool:
        done = list(pool.map(lambda slot: drive(client, slot), slots))
    submitted = time.monotonic()
    accepted = {order_id for slot in done for order_id in slot.order_ids()}
    orders = wait_until_quiet(emulator, accepted, submitted + options.settle_timeout_seconds)
    report = check(done, orders, emulator, ledger)
    report.submit_seconds = submitted - started
    report.settle_seconds = time.monotonic() - submitted
    report.faults = options.faults
    return report


@contextlib.contextmanager
def soak_stack(options: SoakOptions) -> Iterator[tuple[LocalStack, FulfillmentLedger]]:
    """The local stack with the soak's settings and fault plan, and a ledger on fulfill_order."""
    plan = FaultPlan(seed=options.seed, rates=dict(options.faults)) if options.faults else None
    stack_options = LocalStackOptions(
        stack=options.stack,
        api_port=0,
        aws_port=0,
        config={**SOAK_CONFIG, **options.config},
        faults=plan,
        schedule_every_seconds=SCHEDULE_EVERY_SECONDS,
    )
    ledger = FulfillmentLedger()
    fulfill_logger = logging.getLogger("dofs.fulfill_order")  # Powertools' logger writes through it
    fulfill_logger.addHandler(ledger)
    try:
        with LocalStack(stack_options) as stack:
            yield stack, ledger
    finally:
        fulfill_logger.removeHandler(ledger)


def parse_args(argv: Sequence[str]) -> SoakOptions:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--stack", choices=("dev", "prod"), default="dev", help="stack settings (prod: EXPRESS workflow)"
    )
    parser.add_argument("--orders", type=int, default=2000, help="client work units (default 2000)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--seed", type=int, default=1, help="workload and fault seed (default 1)")
    parser.add_argument("--no-faults", action="store_true", help="run without injected faults")
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds to wait for quiet (default 600)"
    )
    add_api_key_option(parser)
    args = parser.parse_args(argv)
    if args.orders < 1 or args.clients < 1:
        parser.error("--orders and --clients must be at least 1")
    return SoakOptions(
        stack=args.stack,
        orders=args.orders,
        clients=args.clients,
        seed=args.seed,
        faults={} if args.no_faults else dict(DEFAULT_FAULT_RATES),
        settle_timeout_seconds=args.timeout,
        api_key=args.api_key,
    )


def main(argv: Sequence[str], out: TextIO = sys.stdout) -> int:
    options = parse_args(argv)
    log_file = PROJECT_ROOT / "build" / "local" / "soak.log"
    log_stream = configure_logging(log_file, out)
    print(
        f"soak: stack {options.stack}, {options.orders} orders from {options.clients} clients; "
        f"logs in {log_file}",
        file=out,
    )
    with contextlib.redirect_stdout(log_stream), soak_stack(options) as (stack, ledger):
        report = soak(stack, options, ledger)
    for line in report.lines():
        print(line, file=out)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
