"""What the workflow's executions bill and log, read from the emulator's own execution objects.

Read from the backend, not through DescribeExecution or GetExecutionHistory, which AWS
(and so the emulator) does not serve for EXPRESS executions.

STANDARD bills state transitions. The conservative reading (AWS's text does not settle
it): every ``*StateEntered`` event is one, Choice, Succeed and Fail states included, and
each retry of a task is one more (seen here as a task scheduled again within one state);
the execution's start is not one. EXPRESS bills a request per StartExecution and its
duration, start to stop rounded up to 100 ms, at memory in 64 MB units: about 50 MB plus
the definition plus the largest payload (aws.amazon.com/step-functions/pricing).

Logs (CloudWatch, vended): at level ALL every history event is one log event, with input
and output when ``includeExecutionData``; ERROR only failures; FATAL only a failed,
aborted or timed-out execution; OFF none.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.stepfunctions.responses import get_backend

from benchmarks.cost.logs import LOG_EVENT_OVERHEAD_BYTES

EXPRESS_BASE_MEMORY_BYTES = 50 * 1024 * 1024
EXPRESS_MEMORY_UNIT_BYTES = 64 * 1024 * 1024
EXPRESS_DURATION_UNIT_MS = 100
SCHEDULED_EVENTS = ("TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled")
FATAL_EVENTS = frozenset({"ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"})
ERROR_SUFFIXES = ("Failed", "TimedOut", "Aborted")
DATA_FIELDS = frozenset({"input", "output", "inputDetails", "outputDetails"})


@dataclass(frozen=True)
class ExecutionRecord:
    arn: str
    started: datetime
    stopped: datetime | None
    events: tuple[Mapping[str, Any], ...]


def event_type(event: Mapping[str, Any]) -> str:
    raw = event.get("type")
    return str(getattr(raw, "value", raw))


def executions_since(region: str, state_machine_arn: str, since: datetime) -> list[ExecutionRecord]:
    """The state machine's executions started at or after ``since``, with their histories."""
    backend = get_backend(DEFAULT_ACCOUNT_ID, region)
    machine = backend.describe_state_machine(state_machine_arn)
    records = []
    for execution in list(machine.executions):
        if execution.start_date < since:
            continue
        worker = getattr(execution, "exec_worker", None)
        env = getattr(worker, "env", None)
        events = tuple(env.event_manager.get_event_history()) if env is not None else ()
        records.append(
            ExecutionRecord(execution.execution_arn, execution.start_date, execution.stop_date, events)
        )
    return records


def state_transitions(events: Sequence[Mapping[str, Any]]) -> tuple[int, int]:
    """(transitions, of which retries): each state entered, plus each task scheduled again."""
    entered = retries = scheduled_in_state = 0
    for event in events:
        kind = event_type(event)
        if kind.endswith("StateEntered"):
            entered += 1
            scheduled_in_state = 0
        elif kind in SCHEDULED_EVENTS:
            scheduled_in_state += 1
            if scheduled_in_state > 1:
                retries += 1
    return entered + retries, retries


def billed_express_ms(record: ExecutionRecord) -> int:
    """Duration billed for an EXPRESS execution: start to stop, up to the next 100 ms."""
    if record.stopped is None:
        raise ValueError(f"execution {record.arn} has not stopped")
    elapsed_ms = (record.stopped - record.started).total_seconds() * 1000
    return max(1, math.ceil(elapsed_ms / EXPRESS_DURATION_UNIT_MS)) * EXPRESS_DURATION_UNIT_MS


def express_memory_mb(definition_bytes: int, largest_payload_bytes: int) -> int:
    """Memory billed: 50 MB + definition + payload, in 64 MB units."""
    used = EXPRESS_BASE_MEMORY_BYTES + definition_bytes + largest_payload_bytes
    return math.ceil(used / EXPRESS_MEMORY_UNIT_BYTES) * (EXPRESS_MEMORY_UNIT_BYTES // (1024 * 1024))


def _details(event: Mapping[str, Any]) -> Mapping[str, Any]:
    for name, value in event.items():
        if name.endswith("EventDetails") and isinstance(value, Mapping):
            return value
    return {}


def largest_payload(events: Iterable[Mapping[str, Any]]) -> int:
    """Bytes of the largest input or output any event carries."""
    sizes = [
        len(str(value).encode("utf-8"))
        for event in events
        for name, value in _details(event).items()
        if name in ("input", "output")
    ]
    return max(sizes, default=0)


def logged(kind: str, level: str) -> bool:
    """Whether an event of type ``kind`` is logged at the state machine's ``level``."""
    if level == "ALL":
        return True
    if level == "ERROR":
        return kind.endswith(ERROR_SUFFIXES)
    if level == "FATAL":
        return kind in FATAL_EVENTS
    return False


def log_event_bytes(event: Mapping[str, Any], execution_arn: str, *, include_data: bool) -> int:
    """One history event as Step Functions writes it to CloudWatch Logs, with the event overhead."""
    details = {k: v for k, v in _details(event).items() if include_data or k not in DATA_FIELDS}
    record = {
        "id": str(event.get("id", "")),
        "type": event_type(event),
        "details": details,
        "previous_event_id": str(event.get("previousEventId", "")),
        "event_timestamp": "1700000000000",
        "execution_arn": execution_arn,
        "redrive_count": "0",
    }
    return len(json.dumps(record, default=str).encode("utf-8")) + LOG_EVENT_OVERHEAD_BYTES


def execution_log(record: ExecutionRecord, level: str, *, include_data: bool) -> tuple[int, int]:
    """(log events, bytes) one execution writes at ``level``."""
    sizes = [
        log_event_bytes(event, record.arn, include_data=include_data)
        for event in record.events
        if logged(event_type(event), level)
    ]
    return len(sizes), sum(sizes)
