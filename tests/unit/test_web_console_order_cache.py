"""The console's order cache: a full scan first, then only what changed, and a full one again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from handlers.repository import utc_iso
from local.web_console.order_cache import FULL_RESCAN_SECONDS, MAX_AGE_SECONDS, OrderCache
from tests.unit.conftest import Tables

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class Clocks:
    def __init__(self) -> None:
        self.seconds = 0.0

    def monotonic(self) -> float:
        return self.seconds

    def wall(self) -> datetime:
        return START + timedelta(seconds=self.seconds)

    def advance(self, seconds: float) -> None:
        self.seconds += seconds


def put(tables: Tables, order_id: str, status: str, updated: datetime) -> None:
    tables.orders.put_item(
        Item={"order_id": order_id, "status": status, "updated_at": utc_iso(updated), "items": ["big"]}
    )


def statuses(cache: OrderCache) -> dict[str, Any]:
    return {item["order_id"]: item["status"] for item in cache.items()}


def test_later_reads_return_changes_and_new_orders_and_a_full_scan_comes_back(tables: Tables) -> None:
    clocks = Clocks()
    cache = OrderCache(
        boto3.client("dynamodb"), tables.orders.name, ("order_id", "status"), clocks.monotonic, clocks.wall
    )
    put(tables, "a", "RECEIVED", clocks.wall())
    put(tables, "b", "RECEIVED", clocks.wall())

    assert statuses(cache) == {"a": "RECEIVED", "b": "RECEIVED"}
    assert "items" not in cache.items()[0]  # only the projected fields

    clocks.advance(MAX_AGE_SECONDS / 2)
    put(tables, "a", "FULFILLED", clocks.wall())
    assert statuses(cache)["a"] == "RECEIVED"  # still fresh: not read again

    clocks.advance(MAX_AGE_SECONDS)
    put(tables, "c", "RECEIVED", clocks.wall())
    # Stamped before the previous scan started, landed after it: the overlap catches it.
    put(tables, "b", "PENDING_FULFILLMENT", START - timedelta(seconds=5))
    assert statuses(cache) == {"a": "FULFILLED", "b": "PENDING_FULFILLMENT", "c": "RECEIVED"}
    assert cache.scans == {"full": 1, "changed": 1}

    clocks.advance(FULL_RESCAN_SECONDS + 1)
    put(tables, "b", "FULFILLED", START - timedelta(hours=1))  # older than any overlap
    assert statuses(cache)["b"] == "FULFILLED"
    assert cache.scans == {"full": 2, "changed": 1}


def test_expire_reads_again_at_once(tables: Tables) -> None:
    clocks = Clocks()
    cache = OrderCache(
        boto3.client("dynamodb"), tables.orders.name, ("order_id", "status"), clocks.monotonic, clocks.wall
    )
    put(tables, "a", "FULFILLMENT_FAILED", clocks.wall())
    assert statuses(cache) == {"a": "FULFILLMENT_FAILED"}

    put(tables, "a", "PENDING_FULFILLMENT", clocks.wall())
    cache.expire()

    assert statuses(cache) == {"a": "PENDING_FULFILLMENT"}
