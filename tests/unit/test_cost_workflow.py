"""What an execution bills and logs (benchmarks/cost/workflow.py), from hand-built histories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

import pytest

from benchmarks.cost.logs import LOG_EVENT_OVERHEAD_BYTES
from benchmarks.cost.workflow import (
    ExecutionRecord,
    billed_express_ms,
    execution_log,
    express_memory_mb,
    largest_payload,
    log_event_bytes,
    logged,
    state_transitions,
)

ARN = "arn:aws:states:ap-south-1:123456789012:execution:machine:order-1"


class HistoryEventType(Enum):  # as moto's interpreter types its events
    TaskStateEntered = "TaskStateEntered"


def event(kind: str, **details: Any) -> dict[str, Any]:
    return {"id": "1", "previousEventId": "0", "type": kind, "taskEventDetails": details}


# Validate (retried once), a Choice, Store, then Succeed: 4 states, 1 retry.
HISTORY = [
    event("ExecutionStarted"),
    {"id": "2", "type": HistoryEventType.TaskStateEntered, "stateEnteredEventDetails": {"input": "{}"}},
    event("TaskScheduled"),
    event("TaskFailed"),
    event("TaskScheduled"),
    event("TaskSucceeded", output='{"valid": true}'),
    event("TaskStateExited"),
    event("ChoiceStateEntered"),
    event("ChoiceStateExited"),
    event("TaskStateEntered"),
    event("TaskScheduled"),
    event("TaskSucceeded"),
    event("SucceedStateEntered"),
    event("ExecutionSucceeded"),
]


def test_every_state_entered_is_a_transition_and_each_retry_one_more() -> None:
    assert state_transitions(HISTORY) == (5, 1)


def test_the_start_alone_is_no_transition() -> None:
    assert state_transitions([event("ExecutionStarted")]) == (0, 0)


def test_a_fail_state_counts_like_any_other() -> None:
    history = [event("ExecutionStarted"), event("ChoiceStateEntered"), event("FailStateEntered")]
    assert state_transitions(history) == (2, 0)


def record(milliseconds: float) -> ExecutionRecord:
    started = datetime(2026, 11, 30, tzinfo=UTC)
    return ExecutionRecord(ARN, started, started + timedelta(milliseconds=milliseconds), tuple(HISTORY))


@pytest.mark.parametrize(
    ("elapsed", "billed"), [(1, 100), (100, 100), (100.5, 200), (250, 300), (1234, 1300)]
)
def test_express_duration_is_billed_in_100_ms_units(elapsed: float, billed: int) -> None:
    assert billed_express_ms(record(elapsed)) == billed


def test_an_execution_still_running_has_no_billed_duration() -> None:
    with pytest.raises(ValueError, match="not stopped"):
        billed_express_ms(ExecutionRecord(ARN, datetime.now(UTC), None, ()))


def test_express_memory_is_50_mb_plus_definition_and_payload_in_64_mb_units() -> None:
    assert express_memory_mb(6_000, 40_000) == 64
    assert express_memory_mb(14 * 1024 * 1024 + 1, 0) == 128


def test_the_largest_payload_is_the_largest_input_or_output() -> None:
    assert largest_payload(HISTORY) == len('{"valid": true}')


@pytest.mark.parametrize(
    ("kind", "level", "expected"),
    [
        ("TaskStateEntered", "ALL", True),
        ("TaskStateEntered", "ERROR", False),
        ("TaskFailed", "ERROR", True),
        ("ExecutionFailed", "ERROR", True),
        ("ExecutionTimedOut", "ERROR", True),
        ("TaskFailed", "FATAL", False),
        ("ExecutionFailed", "FATAL", True),
        ("ExecutionFailed", "OFF", False),
    ],
)
def test_what_each_log_level_writes(kind: str, level: str, expected: bool) -> None:
    assert logged(kind, level) is expected


def test_a_log_event_carries_the_data_only_when_asked() -> None:
    with_data = log_event_bytes(event("TaskSucceeded", output="x" * 1000), ARN, include_data=True)
    without = log_event_bytes(event("TaskSucceeded", output="x" * 1000), ARN, include_data=False)
    assert with_data - without >= 1000
    assert without > LOG_EVENT_OVERHEAD_BYTES + len(ARN)


def test_an_execution_logs_every_event_at_all_and_only_failures_at_error() -> None:
    events, size = execution_log(record(10), "ALL", include_data=True)
    assert events == len(HISTORY) and size > events * LOG_EVENT_OVERHEAD_BYTES
    assert execution_log(record(10), "ERROR", include_data=True)[0] == 1  # the retried TaskFailed
    assert execution_log(record(10), "OFF", include_data=True) == (0, 0)
