"""validator λ: checks an order completely and lists every reason it is invalid.

Two kinds of check: ``find_problems`` (the shape of the order: fields, types, ranges),
which the API also runs, so that bad input is refused with a 422 and never stored; and
``find_inconsistencies`` (rules across fields: the total is the sum of the items), which
only the workflow runs, so an inconsistent order is accepted, then REJECTED with its
reasons in the failed-orders table. The workflow's Choice state branches on ``valid``;
the handler never raises for a bad order, because a rejection is an outcome of the
workflow, not an error of this step.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from handlers import faults
from handlers.models import (
    CENT,
    Order,
    ValidationOutcome,
    WorkflowInput,
    build_models,
    parse_json_decimal,
)
from handlers.observability import get_logger

logger = get_logger("validator")
build_models(WorkflowInput, ValidationOutcome, Order)

ORDER_FIELDS = ("customer_id", "items", "total_amount", "shipping_address")
ITEM_FIELDS = ("product_id", "quantity", "price")
ADDRESS_FIELDS = ("street", "city", "state", "zip")
OPTIONAL_ADDRESS_FIELDS = ("country",)
MAX_ITEMS = 100
MAX_TEXT_LENGTH = 256
# Bounds keep every sum exact within Decimal's default 28 significant digits:
# 100 items x 100,000 units x 999,999,999,999.99 has 21 digits.
MAX_MONEY = Decimal("999999999999.99")
MAX_QUANTITY = 100_000
MAX_NAME_IN_MESSAGE = 64
# Control characters, lone surrogates, and unassigned code points: none belongs in a name
# or an address, and a lone surrogate cannot even be encoded for DynamoDB.
FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs", "Cn"})


def _is_number(value: Any) -> bool:
    return isinstance(value, int | Decimal) and not isinstance(value, bool)


def _validate_text(value: Any, path: str) -> list[str]:
    if not isinstance(value, str) or not value.strip():
        return [f"{path}: must be a non-empty string"]
    if len(value) > MAX_TEXT_LENGTH:
        return [f"{path}: must be at most {MAX_TEXT_LENGTH} characters"]
    if any(unicodedata.category(char) in FORBIDDEN_CATEGORIES for char in value):
        return [f"{path}: must not contain control characters, lone surrogates or unassigned code points"]
    return []


def _validate_money(value: Any, path: str) -> list[str]:
    if not _is_number(value):
        return [f"{path}: must be a number"]
    amount = Decimal(value)
    if not amount.is_finite():
        return [f"{path}: must be a finite number"]
    if amount < 0:
        return [f"{path}: must be greater than or equal to 0"]
    if amount > MAX_MONEY:
        return [f"{path}: must be at most {MAX_MONEY}"]
    if amount != amount.quantize(CENT):
        return [f"{path}: must have at most 2 decimal places"]
    return []


def _validate_quantity(value: Any, path: str) -> list[str]:
    if not isinstance(value, int) or isinstance(value, bool):
        return [f"{path}: must be an integer"]
    if value <= 0:
        return [f"{path}: must be greater than 0"]
    if value > MAX_QUANTITY:
        return [f"{path}: must be at most {MAX_QUANTITY}"]
    return []


def _field_name(name: str) -> str:
    """A client's field name as an error message can show it: short and printable."""
    if len(name) <= MAX_NAME_IN_MESSAGE and name.isprintable():
        return name
    return ascii(name[:MAX_NAME_IN_MESSAGE]) + ("..." if len(name) > MAX_NAME_IN_MESSAGE else "")


def _validate_unknown_fields(data: Mapping[str, Any], allowed: tuple[str, ...], path: str) -> list[str]:
    prefix = f"{path}." if path else ""
    return [f"{prefix}{_field_name(name)}: unknown field" for name in data if name not in allowed]


def _validate_item(item: Any, path: str) -> list[str]:
    if not isinstance(item, dict):
        return [f"{path}: must be an object"]
    reasons = _validate_unknown_fields(item, ITEM_FIELDS, path)
    for name in ITEM_FIELDS:
        if name not in item:
            reasons.append(f"{path}.{name}: is required")
    if "product_id" in item:
        reasons += _validate_text(item["product_id"], f"{path}.product_id")
    if "quantity" in item:
        reasons += _validate_quantity(item["quantity"], f"{path}.quantity")
    if "price" in item:
        reasons += _validate_money(item["price"], f"{path}.price")
    return reasons


def _validate_items(items: Any) -> list[str]:
    if not isinstance(items, list):
        return ["items: must be a list"]
    if not items:
        return ["items: must contain at least one item"]
    if len(items) > MAX_ITEMS:
        return [f"items: must contain at most {MAX_ITEMS} items"]
    reasons: list[str] = []
    for index, item in enumerate(items):
        reasons += _validate_item(item, f"items[{index}]")
    return reasons


def _validate_address(address: Any) -> list[str]:
    if not isinstance(address, dict):
        return ["shipping_address: must be an object"]
    reasons = _validate_unknown_fields(address, ADDRESS_FIELDS + OPTIONAL_ADDRESS_FIELDS, "shipping_address")
    for name in ADDRESS_FIELDS:
        if name not in address:
            reasons.append(f"shipping_address.{name}: is required")
        else:
            reasons += _validate_text(address[name], f"shipping_address.{name}")
    for name in OPTIONAL_ADDRESS_FIELDS:
        if name in address:
            reasons += _validate_text(address[name], f"shipping_address.{name}")
    return reasons


def find_inconsistencies(data: Mapping[str, Any]) -> list[str]:
    """Rules across fields, for an order without problems: the total is the sum of the items."""
    expected = sum(
        (Decimal(item["price"]) * item["quantity"] for item in data["items"]),
        start=Decimal(0),
    )
    if Decimal(data["total_amount"]) != expected:
        return [f"total_amount: must equal the sum of the items ({expected}), got {data['total_amount']}"]
    return []


def find_problems(data: Any) -> list[str]:
    """Every reason ``data`` does not have the shape of an order; empty when it has."""
    if not isinstance(data, dict):
        return ["order: must be a JSON object"]
    reasons = _validate_unknown_fields(data, ORDER_FIELDS, "")
    for name in ORDER_FIELDS:
        if name not in data:
            reasons.append(f"{name}: is required")
    if "customer_id" in data:
        reasons += _validate_text(data["customer_id"], "customer_id")
    if "items" in data:
        reasons += _validate_items(data["items"])
    if "total_amount" in data:
        reasons += _validate_money(data["total_amount"], "total_amount")
    if "shipping_address" in data:
        reasons += _validate_address(data["shipping_address"])
    return reasons


def validate_order(order_id: str, request_body: str) -> ValidationOutcome:
    try:
        data = parse_json_decimal(request_body)
    except (ValueError, RecursionError):
        return ValidationOutcome(order_id=order_id, valid=False, reasons=("order: is not valid JSON",))
    reasons = find_problems(data) or find_inconsistencies(data)
    if reasons:
        return ValidationOutcome(order_id=order_id, valid=False, reasons=tuple(reasons))
    return ValidationOutcome(order_id=order_id, valid=True, order=Order.model_validate(data))


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    faults.inject_transient(faults.FaultPoint.VALIDATOR)
    request = WorkflowInput.model_validate(event)
    outcome = validate_order(request.order_id, request.request_body)
    logger.info(
        "order validated",
        extra={"order_id": outcome.order_id, "valid": outcome.valid, "reasons": list(outcome.reasons)},
    )
    return outcome.model_dump(mode="json")
