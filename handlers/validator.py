"""validator λ: checks an order completely and lists every reason it is invalid.

Two kinds of check: ``find_problems`` (the shape of the order: fields, types, ranges;
in ``handlers.order_shape``), which the API also runs, so that bad input is refused with a
422 and never stored; and ``find_inconsistencies`` (rules across fields: the total is the
sum of the items), which only the workflow runs, so an inconsistent order is accepted,
then REJECTED with its reasons in the failed-orders table. The workflow's Choice state
branches on ``valid``; the handler never raises for a bad order, because a rejection is
an outcome of the workflow, not an error of this step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from handlers import faults
from handlers.messages import WorkflowInput
from handlers.models import parse_json_decimal
from handlers.observability import get_logger
from handlers.order_shape import Order, find_problems, parse_order

logger = get_logger("validator")


@dataclass(frozen=True)
class ValidationOutcome:
    """The validator's verdict: the typed order when valid, every reason when not."""

    order_id: str
    valid: bool
    reasons: tuple[str, ...] = ()
    order: Order | None = None

    def as_json_data(self) -> dict[str, Any]:
        """What the state machine reads: money as decimal strings, no ``float`` anywhere."""
        return {
            "order_id": self.order_id,
            "valid": self.valid,
            "reasons": list(self.reasons),
            "order": self.order.as_json_data() if self.order is not None else None,
        }


def find_inconsistencies(data: Mapping[str, Any]) -> list[str]:
    """Rules across fields, for an order without problems: the total is the sum of the items."""
    expected = sum(
        (Decimal(item["price"]) * item["quantity"] for item in data["items"]),
        start=Decimal(0),
    )
    if Decimal(data["total_amount"]) != expected:
        return [f"total_amount: must equal the sum of the items ({expected}), got {data['total_amount']}"]
    return []


def validate_order(order_id: str, request_body: str) -> ValidationOutcome:
    try:
        data = parse_json_decimal(request_body)
    except (ValueError, RecursionError):
        return ValidationOutcome(order_id=order_id, valid=False, reasons=("order: is not valid JSON",))
    reasons = find_problems(data) or find_inconsistencies(data)
    if reasons:
        return ValidationOutcome(order_id=order_id, valid=False, reasons=tuple(reasons))
    return ValidationOutcome(order_id=order_id, valid=True, order=parse_order(data))


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    faults.inject_transient(faults.FaultPoint.VALIDATOR)
    request = WorkflowInput.from_event(event)
    outcome = validate_order(request.order_id, request.request_body)
    logger.info(
        "order validated",
        extra={"order_id": outcome.order_id, "valid": outcome.valid, "reasons": list(outcome.reasons)},
    )
    return outcome.as_json_data()
