"""What a run measured, ready to price: per window (the orders, or a schedule's runs)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from benchmarks.cost.logs import LOG_EVENT_OVERHEAD_BYTES, LambdaLogConfig
from benchmarks.cost.tally import SQS, FunctionCounts, Tally
from benchmarks.cost.workflow import (
    ExecutionRecord,
    billed_express_ms,
    execution_log,
    express_memory_mb,
    largest_payload,
    state_transitions,
)

DEFAULT_RESERVOIR_PER_SECOND = Decimal(1)
DEFAULT_FIXED_RATE = Decimal("0.05")


@dataclass(frozen=True)
class FunctionSetup:
    """A function as deployed: what its usage is billed and logged at."""

    name: str
    memory_mb: int
    traced: bool
    log: LambdaLogConfig
    init_ms: int  # billed per cold start


@dataclass(frozen=True)
class FunctionUsage:
    setup: FunctionSetup
    invocations: int
    billed_ms: int
    seconds: Decimal
    sqs_invocations: int
    entry_invocations: int  # started by an SQS poller or a schedule: a trace of their own
    log_events: int
    log_bytes: int

    @classmethod
    def of(cls, setup: FunctionSetup, counts: FunctionCounts) -> FunctionUsage:
        kept = [level for level in counts.log_bytes if setup.log.keeps(level)]
        handler_bytes = sum(counts.log_bytes[level] for level in kept)
        handler_events = sum(counts.log_events[level] for level in kept)
        platform_events, platform_bytes = setup.log.platform_log(setup.memory_mb, setup.traced)
        return cls(
            setup=setup,
            invocations=counts.invocations,
            billed_ms=counts.billed_ms,
            seconds=counts.seconds,
            sqs_invocations=counts.invokers[SQS],
            entry_invocations=counts.invokers[SQS] + counts.invokers["schedule"],
            log_events=handler_events + counts.invocations * platform_events,
            log_bytes=handler_bytes
            + handler_events * LOG_EVENT_OVERHEAD_BYTES
            + counts.invocations * platform_bytes,
        )


@dataclass(frozen=True)
class WorkflowSetup:
    arn: str
    workflow_type: str  # STANDARD or EXPRESS
    definition_bytes: int
    log_group: str
    log_level: str
    include_data: bool
    traced: bool


@dataclass(frozen=True)
class WorkflowUsage:
    setup: WorkflowSetup
    executions: int
    start_requests: int
    transitions: int
    retries: int
    express_billed_ms: int
    express_memory_mb: int
    log_events: int
    log_bytes: int

    @classmethod
    def of(cls, setup: WorkflowSetup, records: list[ExecutionRecord], start_requests: int) -> WorkflowUsage:
        transitions = retries = billed_ms = events = size = 0
        payload = 0
        for record in records:
            counted, retried = state_transitions(record.events)
            transitions, retries = transitions + counted, retries + retried
            billed_ms += billed_express_ms(record)
            logged_events, logged_bytes = execution_log(
                record, setup.log_level, include_data=setup.include_data
            )
            events, size = events + logged_events, size + logged_bytes
            payload = max(payload, largest_payload(record.events))
        return cls(
            setup=setup,
            executions=len(records),
            start_requests=start_requests,
            transitions=transitions,
            retries=retries,
            express_billed_ms=billed_ms,
            express_memory_mb=express_memory_mb(setup.definition_bytes, payload),
            log_events=events,
            log_bytes=size,
        )


@dataclass(frozen=True)
class Window:
    """Everything counted while one kind of work ran ``units`` times (orders, or runs)."""

    units: int
    functions: tuple[FunctionUsage, ...]
    workflow: WorkflowUsage
    tally: Tally
    api_traced: bool
    wall_seconds: float

    @property
    def entry_points(self) -> int:
        """Requests that start a trace: API requests, executions (conservative: as if none
        joined its caller's trace), and invocations by an SQS poller or a schedule."""
        api = self.tally.api_requests if self.api_traced else 0
        workflow = self.workflow.start_requests if self.workflow.setup.traced else 0
        functions = sum(f.entry_invocations for f in self.functions if f.setup.traced)
        return api + workflow + functions


@dataclass(frozen=True)
class SamplingRule:
    reservoir_per_second: Decimal = DEFAULT_RESERVOIR_PER_SECOND
    fixed_rate: Decimal = DEFAULT_FIXED_RATE
    source: str = "X-Ray's default rule (1 request/s reservoir + 5%)"

    def traced_share(self, requests_per_second: Decimal) -> Decimal:
        """Share of requests recorded at a steady rate: the reservoir, then the fixed rate."""
        if requests_per_second <= 0:
            return Decimal(0)
        reservoir = min(requests_per_second, self.reservoir_per_second)
        return (reservoir + self.fixed_rate * (requests_per_second - reservoir)) / requests_per_second


@dataclass(frozen=True)
class ScheduledWork:
    function: str
    runs_per_month: Decimal
    window: Window  # ``units`` runs, measured with nothing else to do


@dataclass(frozen=True)
class Measurement:
    stack: str
    region: str
    orders: Window
    outcomes: Counter[str]
    accepted: int
    scheduled: tuple[ScheduledWork, ...]
    event_source_mappings: int
    log_retention_days: Mapping[str, int]  # per log group the program declares
    default_log_retention_days: int  # for a group it does not (the stack's setting)
    sampling: SamplingRule
    cold_start_every: int

    def retention_days(self, log_group: str) -> int:
        return self.log_retention_days.get(log_group, self.default_log_retention_days)
