"""The orders' progress fields, kept cheap to read while orders flow at full rate.

A full scan returns every order, and on the emulator parsing thousands of items is what
costs (2,000 took seconds). So the first read scans everything and later reads ask only
for orders whose ``updated_at`` is recent: every write that changes what the console
shows sets ``updated_at``. Such a scan still reads the whole table but returns only what
changed. Its window starts ``OVERLAP`` before the previous scan did, so a write stamped
just before a scan that lands just after it is still caught; a full scan every
``FULL_RESCAN_SECONDS`` heals anything else.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from handlers.repository import utc_iso

MAX_AGE_SECONDS = 1.0
FULL_RESCAN_SECONDS = 60.0
OVERLAP = timedelta(seconds=30)
_deserializer = TypeDeserializer()


class OrderCache:
    def __init__(
        self,
        dynamodb: Any,
        table_name: str,
        fields: Sequence[str],
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.dynamodb, self.table_name = dynamodb, table_name
        self.names = {f"#f{index}": name for index, name in enumerate(fields)}
        self.monotonic, self.wall_clock = monotonic, wall_clock
        self._lock = threading.Lock()
        self._items: dict[str, dict[str, Any]] = {}
        self._read_at: float | None = None
        self._full_at: float | None = None
        self._since: datetime | None = None
        self.scans = {"full": 0, "changed": 0}

    def items(self) -> list[dict[str, Any]]:
        """Every order's fields, at most ``MAX_AGE_SECONDS`` old, whoever asks."""
        with self._lock:
            now = self.monotonic()
            if self._read_at is None or now - self._read_at > MAX_AGE_SECONDS:
                self._refresh(now)
            return list(self._items.values())

    def expire(self) -> None:
        """Read again at the next ask (after the console itself changed orders)."""
        with self._lock:
            self._read_at = None

    def _refresh(self, now: float) -> None:
        started = self.wall_clock()
        if self._since is None or self._full_at is None or now - self._full_at > FULL_RESCAN_SECONDS:
            self._items = {item["order_id"]: item for item in self._scan({})}
            self._full_at = now
            self.scans["full"] += 1
        else:
            changed = {
                "FilterExpression": "#updated >= :since",
                "ExpressionAttributeNames": {"#updated": "updated_at"},
                "ExpressionAttributeValues": {":since": {"S": utc_iso(self._since)}},
            }
            self._items.update((item["order_id"], item) for item in self._scan(changed))
            self.scans["changed"] += 1
        # Fresh from when the scan ended: a slow scan is not followed at once by another.
        self._since, self._read_at = started - OVERLAP, self.monotonic()

    def _scan(self, extra: dict[str, Any]) -> list[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "ProjectionExpression": ", ".join(self.names),
            **extra,
            "ExpressionAttributeNames": {**self.names, **extra.get("ExpressionAttributeNames", {})},
        }
        items: list[dict[str, Any]] = []
        for page in self.dynamodb.get_paginator("scan").paginate(**request):
            items += ({k: _deserializer.deserialize(v) for k, v in raw.items()} for raw in page["Items"])
        return items
