"""The console's derivations from the orders' recorded progress (local/web_console/progress.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from components.state_machine import ENQUEUE_DEFERRED_STATE, build_definition
from local.web_console import progress
from local.web_console.progress import QueueDepths

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
DEFINITION = build_definition("validator-arn", "storage-arn", "queue-url", 60)


def at(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def fulfilled(order_id: str, created: float, final: float) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "status": "FULFILLED",
        "created_at": at(created),
        "validated_at": at(created - 0.1),
        "fulfilled_at": at(final),
        "fulfillment_attempts": 1,
    }


REJECTED = {
    "order_id": "r",
    "status": "REJECTED",
    "created_at": at(30),
    "failed_at": at(29),
    "failure_stage": "validation",
    "failure_reasons": ["total_amount 10 is not the sum of the items, 20"],
}
WORKFLOW_FAILED = {
    "order_id": "w",
    "status": "FULFILLMENT_FAILED",
    "created_at": at(30),
    "failed_at": at(29),
    "failure_stage": "workflow",
    "failure_reasons": ["Lambda.Unknown"],
}
RECEIVED = {"order_id": "n", "status": "RECEIVED", "created_at": at(1)}


def test_a_redriven_then_fulfilled_order_shows_each_change_in_time_order() -> None:
    item = {
        "order_id": "o",
        "status": "FULFILLED",
        "created_at": at(100),
        "validated_at": at(99),
        "fulfilled_at": at(10),
        "fulfillment_attempts": 4,
        "request_body": "{}",
        "previous_failures": [
            {
                "failure_stage": "fulfillment",
                "failure_reasons": ["boom after 3 attempt(s)"],
                "failed_at": at(50),
            }
        ],
    }

    detail = progress.order_detail(item)

    assert [(event["status"], event["at"]) for event in detail["timeline"]] == [
        ("RECEIVED", at(100)),
        ("PENDING_FULFILLMENT", at(99)),
        ("FULFILLMENT_FAILED", at(50)),
        ("FULFILLED", at(10)),
    ]
    assert detail["timeline"][2]["reasons"] == ["boom after 3 attempt(s)"]
    assert detail["timeline"][3]["what"] == "fulfilled at attempt 4"
    assert "request_body" not in detail["fields"]


def test_a_rejection_is_its_own_status_with_its_reasons() -> None:
    events = progress.timeline(REJECTED)

    assert [event["status"] for event in events] == ["RECEIVED", "REJECTED"]
    assert events[-1]["reasons"] == REJECTED["failure_reasons"]


def test_the_pipeline_counts_each_status_and_the_queues() -> None:
    items = [fulfilled("a", 20, 19), fulfilled("b", 20, 18), REJECTED, WORKFLOW_FAILED, RECEIVED]
    statuses = progress.status_counts(items)

    stages = {s["stage"]: s["count"] for s in progress.pipeline(statuses, QueueDepths(3, 2, 7))}

    assert statuses == {
        "RECEIVED": 1,
        "PENDING_FULFILLMENT": 0,
        "FULFILLED": 2,
        "FULFILLMENT_FAILED": 1,
        "REJECTED": 1,
    }
    assert stages == {"api": 5, "workflow": 1, "queue": 3, "fulfillment": 2, "dlq": 2, "failed": 2}


def test_the_graph_has_every_state_of_the_definition_with_counts_from_progress() -> None:
    items = [fulfilled("a", 20, 19), REJECTED, WORKFLOW_FAILED, RECEIVED]

    graph = progress.workflow_graph(DEFINITION, items)
    states = {state["name"]: state for state in graph["states"]}

    assert set(states) == set(DEFINITION["States"])
    assert (states["ValidateOrder"]["at"], states["ValidateOrder"]["passed"]) == (1, 2)
    assert states["StoreOrder"]["passed"] == 1
    assert states["RecordRejection"]["passed"] == 1
    assert states["RecordWorkflowFailure"]["passed"] == 1
    assert states[ENQUEUE_DEFERRED_STATE]["passed"] is None  # nothing recorded tells
    assert states["ValidateOrder"]["column"] == 0
    assert states["IsOrderValid"]["column"] == 1
    assert {"to": "RecordWorkflowFailure", "kind": "catch"} in states["ValidateOrder"]["edges"]


def test_charts_count_orders_per_second_and_latency_percentiles_in_their_buckets() -> None:
    latencies = [0.5] * 98 + [3.0, 9.0]
    items = [fulfilled(f"o{i}", 10 + latency, 10) for i, latency in enumerate(latencies)]
    items.append(RECEIVED)
    items.append(fulfilled("old", 3600, 3590))  # outside the window

    charts = progress.charts(items, NOW)

    seconds = charts["bucket_seconds"]
    assert sum(charts["finished_per_second"]) * seconds == 100
    assert sum(charts["accepted_per_second"]) * seconds == 101
    assert charts["window_p50_seconds"] == 0.5
    assert charts["window_p99_seconds"] == 3.0
    assert charts["p99_seconds"][-1] == 3.0


def test_percentile_is_nearest_rank() -> None:
    assert progress.percentile([], 0.5) is None
    assert progress.percentile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.0
    assert progress.percentile([1.0, 2.0], 0.99) == 2.0
