"""What the console derives from the orders' recorded progress, with no extra writes on the
order path: each order's timeline, the count at each stage of the pipeline and at each
state of the workflow, and throughput and latency over the last minutes.

The orders table records statuses and timestamps (``created_at``, ``validated_at``,
``fulfilled_at``, ``failed_at``), attempts and failures; that is all the console reads, so
it shows the same on STANDARD and EXPRESS workflows (whose executions cannot be listed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from handlers.models import TERMINAL_STATUSES, FailureStage, OrderStatus

Item = Mapping[str, Any]
CHART_WINDOW = timedelta(minutes=10)
CHART_BUCKET = timedelta(seconds=15)


def parse_time(value: Any) -> datetime | None:
    """A stored timestamp (``2026-01-01T00:00:00.000Z``), or None when absent or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def final_time(item: Item) -> datetime | None:
    """When the order reached its final status, or None while it is in flight."""
    if item.get("status") not in TERMINAL_STATUSES:
        return None
    return parse_time(item.get("fulfilled_at") or item.get("failed_at"))


# -- one order ------------------------------------------------------------------------------


def _failure_event(failure: Item, redriven: bool) -> dict[str, Any]:
    stage = failure.get("failure_stage")
    status = OrderStatus.REJECTED if stage == FailureStage.VALIDATION else OrderStatus.FULFILLMENT_FAILED
    return {
        "at": failure.get("failed_at"),
        "status": status.value,
        "what": f"failed at stage {stage}" + (" (later redriven)" if redriven else ""),
        "reasons": [str(reason) for reason in failure.get("failure_reasons", [])],
    }


def timeline(item: Item) -> list[dict[str, Any]]:
    """Every status change the order has recorded, oldest first: ``{at, status, what, reasons}``."""
    events: list[dict[str, Any]] = [
        {"at": item.get("created_at"), "status": "RECEIVED", "what": "accepted (202)", "reasons": []}
    ]
    if "validated_at" in item:
        events.append(
            {
                "at": item["validated_at"],
                "status": OrderStatus.PENDING_FULFILLMENT.value,
                "what": "validated and stored, enqueued for fulfillment",
                "reasons": [],
            }
        )
    events += [_failure_event(failure, redriven=True) for failure in item.get("previous_failures", [])]
    if "fulfilled_at" in item:
        attempts = int(item.get("fulfillment_attempts", 0))
        events.append(
            {
                "at": item["fulfilled_at"],
                "status": OrderStatus.FULFILLED.value,
                "what": f"fulfilled at attempt {attempts}",
                "reasons": [],
            }
        )
    if "failed_at" in item:
        events.append(_failure_event(item, redriven=False))
    return sorted(events, key=lambda event: str(event["at"] or ""))


def order_detail(item: Item) -> dict[str, Any]:
    """The order as the console shows it: its fields (no raw request body) and its timeline."""
    fields = {key: value for key, value in item.items() if key != "request_body"}
    return {
        "order_id": item["order_id"],
        "status": item["status"],
        "fulfillment_attempts": int(item.get("fulfillment_attempts", 0)),
        "last_fulfillment_error": item.get("last_fulfillment_error"),
        "failure_stage": item.get("failure_stage"),
        "failure_reasons": [str(reason) for reason in item.get("failure_reasons", [])],
        "redrive_count": int(item.get("redrive_count", 0)),
        "timeline": timeline(item),
        "fields": fields,
    }


# -- the pipeline -------------------------------------------------------------------------


def status_counts(items: Iterable[Item]) -> dict[str, int]:
    counted = Counter(str(item.get("status")) for item in items)
    return {status.value: counted.get(status.value, 0) for status in OrderStatus}


@dataclass(frozen=True)
class QueueDepths:
    order_queue: int
    dlq: int
    failed_records: int


def pipeline(statuses: Mapping[str, int], depths: QueueDepths) -> list[dict[str, Any]]:
    """The stages from API to fulfillment, each with what is there now."""
    return [
        {"stage": "api", "label": "API", "count": sum(statuses.values()), "note": "orders accepted (202)"},
        {
            "stage": "workflow",
            "label": "Workflow",
            "count": statuses[OrderStatus.RECEIVED],
            "note": "RECEIVED: validating and storing",
        },
        {
            "stage": "queue",
            "label": "Order queue",
            "count": depths.order_queue,
            "note": f"messages · {statuses[OrderStatus.PENDING_FULFILLMENT]} orders pending",
        },
        {
            "stage": "fulfillment",
            "label": "Fulfillment",
            "count": statuses[OrderStatus.FULFILLED],
            "note": "FULFILLED",
        },
        {"stage": "dlq", "label": "DLQ", "count": depths.dlq, "note": "messages waiting"},
        {
            "stage": "failed",
            "label": "Failed",
            "count": statuses[OrderStatus.FULFILLMENT_FAILED] + statuses[OrderStatus.REJECTED],
            "note": f"{depths.failed_records} failure records",
        },
    ]


# -- the workflow's states ---------------------------------------------------------------


def _validated(item: Item) -> bool:
    return "validated_at" in item


def _rejected(item: Item) -> bool:
    return item.get("status") == OrderStatus.REJECTED


def _workflow_failed(item: Item) -> bool:
    failures = [item, *item.get("previous_failures", [])]
    return any(failure.get("failure_stage") == FailureStage.WORKFLOW for failure in failures)


def _received(item: Item) -> bool:
    return item.get("status") == OrderStatus.RECEIVED


def _never(item: Item) -> bool:
    return False


# For each state a recorded order can place: (is the order at it now, has it passed it).
# States the orders' fields cannot tell about (a duplicate execution stopping early, an
# enqueue left to the reconciler) are drawn without counts.
STATE_PROGRESS: dict[str, tuple[Callable[[Item], bool], Callable[[Item], bool]]] = {
    "ValidateOrder": (_received, lambda item: _validated(item) or _rejected(item)),
    "IsOrderValid": (_never, lambda item: _validated(item) or _rejected(item)),
    "StoreOrder": (_never, _validated),
    "EnqueueForFulfillment": (_never, _validated),
    "RecordRejection": (_never, _rejected),
    "OrderRejected": (_never, _rejected),
    "RecordWorkflowFailure": (_never, _workflow_failed),
    "WorkflowFailed": (_never, _workflow_failed),
}


def _next_states(state: Mapping[str, Any]) -> list[dict[str, str]]:
    edges = [{"to": state["Next"], "kind": "next"}] if "Next" in state else []
    edges += [{"to": choice["Next"], "kind": "choice"} for choice in state.get("Choices", [])]
    if "Default" in state:
        edges.append({"to": state["Default"], "kind": "default"})
    edges += [{"to": catch["Next"], "kind": "catch"} for catch in state.get("Catch", [])]
    return edges


def _depths(definition: Mapping[str, Any]) -> dict[str, int]:
    """Each state's column: its distance from StartAt along Next/Choice edges (catches do
    not push a state right, so the happy path reads left to right)."""
    states = definition["States"]
    depth = {definition["StartAt"]: 0}
    frontier = [definition["StartAt"]]
    while frontier:
        name = frontier.pop(0)
        for edge in _next_states(states[name]):
            if edge["to"] not in depth and edge["to"] in states:
                depth[edge["to"]] = depth[name] + 1
                frontier.append(edge["to"])
    return {name: depth.get(name, max(depth.values()) + 1) for name in states}


def workflow_graph(definition: Mapping[str, Any], items: Sequence[Item]) -> dict[str, Any]:
    """The state machine's states and edges with, per state, how many orders are at it and
    how many have passed it (None where the recorded progress cannot tell)."""
    depths = _depths(definition)
    rows: Counter[int] = Counter()
    states = []
    for name, state in definition["States"].items():
        column = depths[name]
        progress = STATE_PROGRESS.get(name)
        states.append(
            {
                "name": name,
                "type": state.get("Type"),
                "column": column,
                "row": rows[column],
                "at": sum(1 for item in items if progress[0](item)) if progress else None,
                "passed": sum(1 for item in items if progress[1](item)) if progress else None,
                "edges": _next_states(state),
            }
        )
        rows[column] += 1
    return {"start_at": definition["StartAt"], "states": states}


# -- throughput and latency -----------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-int(fraction * 1000) * len(ordered) // 1000))  # ceil without floats drifting
    return ordered[min(rank, len(ordered)) - 1]


def charts(items: Iterable[Item], now: datetime) -> dict[str, Any]:
    """Per bucket over the last ``CHART_WINDOW``: orders/s accepted and finished, and the
    202-to-final p50 and p99 (seconds) of the orders finished in it."""
    start = now - CHART_WINDOW
    buckets = int(CHART_WINDOW / CHART_BUCKET)
    accepted, finished = [0] * buckets, [0] * buckets
    latencies: list[list[float]] = [[] for _ in range(buckets)]

    def bucket(moment: datetime | None) -> int | None:
        if moment is None or not start <= moment < now:
            return None
        return min(int((moment - start) / CHART_BUCKET), buckets - 1)

    for item in items:
        created, ended = parse_time(item.get("created_at")), final_time(item)
        if (index := bucket(created)) is not None:
            accepted[index] += 1
        if (index := bucket(ended)) is not None and created is not None and ended is not None:
            finished[index] += 1
            latencies[index].append((ended - created).total_seconds())
    seconds = CHART_BUCKET.total_seconds()
    every = [latency for bucket_latencies in latencies for latency in bucket_latencies]
    return {
        "bucket_seconds": seconds,
        "window_start": start.isoformat(),
        "accepted_per_second": [n / seconds for n in accepted],
        "finished_per_second": [n / seconds for n in finished],
        "p50_seconds": [percentile(values, 0.5) for values in latencies],
        "p99_seconds": [percentile(values, 0.99) for values in latencies],
        "window_p50_seconds": percentile(every, 0.5),
        "window_p99_seconds": percentile(every, 0.99),
    }
