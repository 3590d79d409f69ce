"""What every handler shares: order statuses, the in-flight index, money in cents, JSON.

Plain code only (the Pulumi program imports it for the constants): the typed order is in
``handlers.order_shape``, the payloads the functions exchange in ``handlers.messages``.
"""

from __future__ import annotations

import json
import zlib
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any


class OrderStatus(StrEnum):
    RECEIVED = "RECEIVED"
    PENDING_FULFILLMENT = "PENDING_FULFILLMENT"
    FULFILLED = "FULFILLED"
    FULFILLMENT_FAILED = "FULFILLMENT_FAILED"
    REJECTED = "REJECTED"


TERMINAL_STATUSES = frozenset({OrderStatus.FULFILLED, OrderStatus.FULFILLMENT_FAILED, OrderStatus.REJECTED})

IN_FLIGHT_STATUSES = frozenset({OrderStatus.RECEIVED, OrderStatus.PENDING_FULFILLMENT})

# The orders table's index of orders still in flight, by when the reconciler should look
# at them: sparse (a final status removes both keys, so the index holds only orders in
# flight) and sharded (an order's shard is a hash of its id, so at any rate no shard key
# takes more than 1/IN_FLIGHT_SHARDS of the index writes). Keys only, and its keys change
# only when an order enters or leaves flight or its deadline moves: most status changes
# write nothing to it. Each order found is read again before use.
IN_FLIGHT_INDEX = "in_flight-due_at-index"
IN_FLIGHT_SHARD = "in_flight"
DUE_AT = "due_at"
IN_FLIGHT_SHARDS = 16


def in_flight_shard(order_id: str) -> str:
    """The order's shard of the in-flight index: stable, and spread evenly over random ids."""
    return format(zlib.crc32(order_id.encode("utf-8")) % IN_FLIGHT_SHARDS, "02d")


# Shared with the Pulumi program (its IAM grants), which must not import botocore.
def execution_arn_of(state_machine_arn: str, name: str) -> str:
    """``arn:...:stateMachine:<machine>`` and a name → ``arn:...:execution:<machine>:<name>``."""
    prefix, _, machine = state_machine_arn.rpartition(":stateMachine:")
    return f"{prefix}:execution:{machine}:{name}"


class FailureStage(StrEnum):
    VALIDATION = "validation"
    WORKFLOW = "workflow"
    FULFILLMENT = "fulfillment"


CENT = Decimal("0.01")


def to_cents(amount: Decimal) -> Decimal:
    """``amount`` with exactly two decimal places: ``1E+2`` is ``100.00``, ``-0.00`` is ``0.00``."""
    try:
        cents = amount.quantize(CENT)
    except InvalidOperation:
        raise ValueError("amount has too many digits to be written in cents") from None
    return cents.copy_abs() if cents.is_zero() else cents


def parse_json_decimal(text: str | bytes) -> Any:
    """``json.loads`` that reads every non-integer number as ``Decimal``, never ``float``.

    ``NaN`` and ``Infinity`` are not JSON, and an object naming a key twice is ambiguous
    (parsers disagree on which value wins); both raise ``ValueError`` here.
    """

    def _reject_constant(name: str) -> Any:
        raise ValueError(f"{name} is not a valid JSON number")

    def _decimal(text: str) -> Decimal:
        try:
            return Decimal(text)
        except InvalidOperation:  # an exponent beyond what Decimal can hold
            raise ValueError(f"number {text[:32]} is out of range") from None

    def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise ValueError(f"key {key[:64]!a} appears twice in one object")
            result[key] = value
        return result

    return json.loads(text, parse_float=_decimal, parse_constant=_reject_constant, object_pairs_hook=_object)


def _encode_decimal(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dump_json(value: Any) -> str:
    """Compact JSON with ``Decimal`` written as a string, keys sorted (stable hashes)."""
    return json.dumps(value, default=_encode_decimal, sort_keys=True, separators=(",", ":"))
