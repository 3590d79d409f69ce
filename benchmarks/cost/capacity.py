"""DynamoDB's capacity rules, applied to real items (DynamoDB JSON: ``{"S": "..."}``).

Item size (Developer Guide, "DynamoDB item sizes and formats",
docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html):
each attribute is its name's UTF-8 bytes plus its value: a string its UTF-8 bytes, a
number 1 byte per two significant digits plus 1, a binary its raw bytes, a boolean or
null 1 byte, a list or map 3 bytes plus 1 byte and the size of each element (a map
element with its name), a set the sum of its elements.

Units (docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html
and the whitepaper "How AWS pricing works: DynamoDB"): a write is 1 unit per 1 KB, rounded
up; an update is sized by the larger of the item before and after; a delete by the item
deleted; a transactional write costs twice. A conditional write whose condition fails
still consumes units, sized by the item already there (1 unit when there is none), and
writes no index. A read is 1 unit per 4 KB (a Query sums the items it reads, then rounds),
half for an eventually consistent read, twice for a transactional one.

Index writes (Developer Guide, GSI.md): an item that enters an index is 1 write, one
that leaves it 1 (a delete), a changed index key 2 (delete and put); with the key
unchanged, a change to a projected non-key attribute is 1 write (ALL, INCLUDE) and any
other change none (KEYS_ONLY always none). Each is sized by the index entry: the table's
and the index's keys plus the projected attributes.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096
DOCUMENT_OVERHEAD_BYTES = 3  # a list or a map
ELEMENT_OVERHEAD_BYTES = 1  # each element of a list or a map
EVENTUALLY_CONSISTENT = Decimal("0.5")
TRANSACTIONAL = 2

Item = Mapping[str, Mapping[str, Any]]  # attribute name -> {"S": "..."} and so on


def number_size(text: str) -> int:
    """Bytes of a DynamoDB number: 1 per two significant digits, plus 1."""
    try:
        digits = Decimal(text).normalize().as_tuple().digits
    except InvalidOperation as exc:
        raise ValueError(f"{text!r} is not a DynamoDB number") from exc
    return math.ceil(len(digits) / 2) + 1


def _binary_size(value: Any) -> int:
    if isinstance(value, bytes | bytearray):
        return len(value)
    try:
        return len(base64.b64decode(str(value), validate=True))
    except (binascii.Error, ValueError):
        return len(str(value).encode("utf-8"))


def value_size(value: Mapping[str, Any]) -> int:
    """Bytes of one attribute value, without its name."""
    ((kind, content),) = value.items()
    if kind == "S":
        return len(str(content).encode("utf-8"))
    if kind == "N":
        return number_size(str(content))
    if kind == "B":
        return _binary_size(content)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(s).encode("utf-8")) for s in content)
    if kind == "NS":
        return sum(number_size(str(n)) for n in content)
    if kind == "BS":
        return sum(_binary_size(b) for b in content)
    if kind == "L":
        return DOCUMENT_OVERHEAD_BYTES + sum(ELEMENT_OVERHEAD_BYTES + value_size(v) for v in content)
    if kind == "M":
        return DOCUMENT_OVERHEAD_BYTES + sum(
            ELEMENT_OVERHEAD_BYTES + len(name.encode("utf-8")) + value_size(v) for name, v in content.items()
        )
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def item_size(item: Item | None) -> int:
    """Bytes of an item: each attribute's name and value (0 for no item)."""
    if not item:
        return 0
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


def write_units(size_bytes: int) -> int:
    """Write units for ``size_bytes``: 1 per KB, rounded up, at least 1."""
    return max(1, math.ceil(size_bytes / WRITE_UNIT_BYTES))


def read_units(size_bytes: int, *, consistent: bool, transactional: bool = False) -> Decimal:
    """Read units for one read of ``size_bytes`` (a GetItem, or one Query page's sum)."""
    units = Decimal(max(1, math.ceil(size_bytes / READ_UNIT_BYTES)))
    if transactional:
        return units * TRANSACTIONAL
    return units if consistent else units * EVENTUALLY_CONSISTENT


def key_text(value: Mapping[str, Any]) -> str:
    """A key attribute's value as text (its type tag dropped)."""
    ((_, content),) = value.items()
    return str(content)


@dataclass(frozen=True)
class IndexSpec:
    name: str
    hash_key: str
    range_key: str | None
    projection: str  # ALL, KEYS_ONLY or INCLUDE
    non_key_attributes: frozenset[str] = frozenset()

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.hash_key, self.range_key) if self.range_key else (self.hash_key,)

    def holds(self, item: Item | None) -> bool:
        """Whether the item is in the index (it has every index key)."""
        return item is not None and all(key in item for key in self.keys)

    def entry(self, item: Item, table_keys: Iterable[str]) -> dict[str, Mapping[str, Any]]:
        """The index entry of an item the index holds: keys plus projected attributes."""
        if self.projection == "ALL":
            return dict(item)
        wanted = {*table_keys, *self.keys}
        if self.projection == "INCLUDE":
            wanted |= self.non_key_attributes
        return {name: value for name, value in item.items() if name in wanted}


@dataclass(frozen=True)
class TableSpec:
    name: str
    hash_key: str
    range_key: str | None
    indexes: tuple[IndexSpec, ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.hash_key, self.range_key) if self.range_key else (self.hash_key,)


@dataclass(frozen=True)
class UnitsOnKey:
    """Units spent on one partition key of the table (``index`` empty) or of an index."""

    index: str
    hash_value: str
    units: int


@dataclass(frozen=True)
class WriteCost:
    table: UnitsOnKey
    index_writes: tuple[UnitsOnKey, ...] = ()

    @property
    def units(self) -> int:
        return self.table.units + sum(write.units for write in self.index_writes)


def index_writes(
    index: IndexSpec, table: TableSpec, before: Item | None, after: Item | None
) -> list[UnitsOnKey]:
    """The index's writes for one item going from ``before`` to ``after`` (None: no item)."""
    was, now = index.holds(before), index.holds(after)
    if not was and not now:
        return []
    old = index.entry(before, table.keys) if was and before is not None else None
    new = index.entry(after, table.keys) if now and after is not None else None
    if old is None:
        assert new is not None
        return [UnitsOnKey(index.name, key_text(new[index.hash_key]), write_units(item_size(new)))]
    if new is None:
        return [UnitsOnKey(index.name, key_text(old[index.hash_key]), write_units(item_size(old)))]
    if any(old[key] != new[key] for key in index.keys):
        return [
            UnitsOnKey(index.name, key_text(old[index.hash_key]), write_units(item_size(old))),
            UnitsOnKey(index.name, key_text(new[index.hash_key]), write_units(item_size(new))),
        ]
    if old == new:  # KEYS_ONLY, or no projected attribute changed
        return []
    return [
        UnitsOnKey(
            index.name, key_text(new[index.hash_key]), write_units(max(item_size(old), item_size(new)))
        )
    ]


def write_cost(
    table: TableSpec, before: Item | None, after: Item | None, *, transactional: bool = False
) -> WriteCost:
    """A write that took effect: a put (before None or not), an update, or a delete (after None)."""
    present = after if after is not None else before
    hash_value = key_text(present[table.hash_key]) if present else ""
    factor = TRANSACTIONAL if transactional else 1
    base = UnitsOnKey("", hash_value, factor * write_units(max(item_size(before), item_size(after))))
    writes = [
        UnitsOnKey(w.index, w.hash_value, factor * w.units)
        for index in table.indexes
        for w in index_writes(index, table, before, after)
    ]
    return WriteCost(base, tuple(writes))


def failed_write_cost(
    table: TableSpec, existing: Item | None, hash_value: str, *, transactional: bool = False
) -> WriteCost:
    """A conditional write whose condition failed: sized by the item already there."""
    factor = TRANSACTIONAL if transactional else 1
    return WriteCost(UnitsOnKey("", hash_value, factor * write_units(item_size(existing))))
