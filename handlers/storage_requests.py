"""The requests order_storage takes: from the workflow (store a validated order, record
a rejection or a failed step) and from EventBridge (an execution that ended badly).

Frozen dataclasses, chosen by the event's ``operation`` and read by hand: an event that is
not one of them raises ``MalformedInputError`` naming every field at fault, before any
write.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from handlers.errors import MalformedInputError
from handlers.order_shape import Order, parse_order
from handlers.parsing import TEXT, check_fields, require_object


@dataclass(frozen=True)
class StoreValidatedOrder:
    """Store a validated order PENDING_FULFILLMENT (StoreOrder)."""

    operation: ClassVar[str] = "store_validated"

    order_id: str
    order: Order


@dataclass(frozen=True)
class RecordRejection:
    """Record that validation rejected the order, with its reasons (RecordRejection)."""

    operation: ClassVar[str] = "record_rejection"

    order_id: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class RecordWorkflowFailure:
    """Record that a workflow step, or the whole execution, failed (RecordWorkflowFailure,
    and the EventBridge rule on executions that ended badly)."""

    operation: ClassVar[str] = "record_workflow_failure"

    order_id: str
    error: str = "Unknown"
    cause: str = ""


StorageRequest = StoreValidatedOrder | RecordRejection | RecordWorkflowFailure


def _is_reasons(value: Any) -> bool:
    return isinstance(value, list | tuple) and bool(value) and all(isinstance(item, str) for item in value)


def _store_validated(fields: Mapping[str, Any], what: str) -> StoreValidatedOrder:
    check_fields(fields, what, ("order_id", "order"), types={"order_id": TEXT})
    try:
        order = parse_order(fields["order"])
    except MalformedInputError as exc:
        raise MalformedInputError(f"{what}: {exc}") from None
    return StoreValidatedOrder(order_id=fields["order_id"], order=order)


def _record_rejection(fields: Mapping[str, Any], what: str) -> RecordRejection:
    types = {"order_id": TEXT, "reasons": (_is_reasons, "a non-empty list of strings")}
    check_fields(fields, what, ("order_id", "reasons"), types=types)
    return RecordRejection(order_id=fields["order_id"], reasons=tuple(fields["reasons"]))


def _record_workflow_failure(fields: Mapping[str, Any], what: str) -> RecordWorkflowFailure:
    types = dict.fromkeys(("order_id", "error", "cause"), TEXT)
    check_fields(fields, what, ("order_id",), ("error", "cause"), types)
    optional = {name: fields[name] for name in ("error", "cause") if name in fields}
    return RecordWorkflowFailure(order_id=fields["order_id"], **optional)


_STORAGE_READERS: dict[str, Callable[[Mapping[str, Any], str], StorageRequest]] = {
    StoreValidatedOrder.operation: _store_validated,
    RecordRejection.operation: _record_rejection,
    RecordWorkflowFailure.operation: _record_workflow_failure,
}


def parse_storage_request(event: Any) -> StorageRequest:
    """The request in an order_storage event, chosen by its ``operation``."""
    fields = require_object(event, "storage request")
    if "operation" not in fields:
        raise MalformedInputError("storage request: operation: is required")
    read = _STORAGE_READERS.get(fields["operation"]) if isinstance(fields["operation"], str) else None
    if read is None:
        raise MalformedInputError(
            f"storage request: operation: must be one of {', '.join(_STORAGE_READERS)}, "
            f"got {str(fields['operation'])[:64]!a}"
        )
    operation = {k: v for k, v in fields.items() if k != "operation"}
    return read(operation, f"{fields['operation']} request")
