"""What one measured window counted: plain counters, filled from many threads."""

from __future__ import annotations

import math
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from benchmarks.cost.capacity import WriteCost

SQS_CHUNK_BYTES = 64 * 1024  # each 64 KB chunk of a payload is billed as one request

# Who invoked a function, told from its event.
API, SQS, SCHEDULE, OTHER = "api", "sqs", "schedule", "other"


def billed_milliseconds(seconds: float) -> int:
    """Lambda bills duration in 1 ms units, rounded up."""
    return max(1, math.ceil(seconds * 1000))


@dataclass
class FunctionCounts:
    """One function's invocations; its memory, tracing and log settings come from the emulator."""

    invocations: int = 0
    billed_ms: int = 0
    seconds: Decimal = Decimal(0)  # wall time, for concurrency
    errors: int = 0
    invokers: Counter[str] = field(default_factory=Counter)
    log_bytes: Counter[str] = field(default_factory=Counter)  # by level ("" when the line names none)
    log_events: Counter[str] = field(default_factory=Counter)


@dataclass
class DynamoCounts:
    write_units: Counter[tuple[str, str]] = field(default_factory=Counter)  # (table, index "" = base)
    read_units: defaultdict[tuple[str, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    write_units_by_key: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # + hash key value
    read_units_by_key: defaultdict[tuple[str, str, str], Decimal] = field(
        default_factory=lambda: defaultdict(Decimal)
    )
    operations: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (table, op, outcome)


@dataclass
class Tally:
    functions: dict[str, FunctionCounts] = field(default_factory=dict)
    dynamodb: DynamoCounts = field(default_factory=DynamoCounts)
    requests: Counter[tuple[str, str]] = field(default_factory=Counter)  # (service, action)
    sqs_requests: Counter[str] = field(default_factory=Counter)  # billed requests (64 KB chunks) by action
    sqs_empty_receives: int = 0
    api_requests: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add_invocation(self, name: str, seconds: float, invoker: str, error_log_bytes: int | None) -> None:
        with self._lock:
            counts = self.functions.setdefault(name, FunctionCounts())
            counts.invocations += 1
            counts.billed_ms += billed_milliseconds(seconds)
            counts.seconds += Decimal(repr(seconds))
            counts.invokers[invoker] += 1
            if error_log_bytes is not None:  # the runtime logs the error report, one event
                counts.errors += 1
                counts.log_bytes["ERROR"] += error_log_bytes
                counts.log_events["ERROR"] += 1

    def add_log_line(self, name: str, level: str, size_bytes: int) -> None:
        with self._lock:
            counts = self.functions.setdefault(name, FunctionCounts())
            counts.log_bytes[level] += size_bytes
            counts.log_events[level] += 1

    def add_write(self, table: str, operation: str, cost: WriteCost, *, succeeded: bool) -> None:
        with self._lock:
            counts = self.dynamodb
            counts.operations[(table, operation, "ok" if succeeded else "condition failed")] += 1
            for write in (cost.table, *cost.index_writes):
                counts.write_units[(table, write.index)] += write.units
                counts.write_units_by_key[(table, write.index, write.hash_value)] += write.units

    def add_read(self, table: str, index: str, hash_value: str, units: Decimal, operation: str) -> None:
        with self._lock:
            counts = self.dynamodb
            counts.operations[(table, operation, "ok")] += 1
            counts.read_units[(table, index)] += units
            counts.read_units_by_key[(table, index, hash_value)] += units

    def add_request(self, service: str, action: str, payload_bytes: int, *, empty_receive: bool) -> None:
        with self._lock:
            self.requests[(service, action)] += 1
            if service != "sqs":
                return
            if empty_receive:
                self.sqs_empty_receives += 1
            else:
                self.sqs_requests[action] += max(1, math.ceil(payload_bytes / SQS_CHUNK_BYTES))

    def add_api_request(self) -> None:
        with self._lock:
            self.api_requests += 1
