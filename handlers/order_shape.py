"""The shape of an order: every rule its fields must meet, and the typed ``Order``.

``find_problems`` lists every way a would-be order breaks the rules; the API runs it, so
bad input is refused with a 422 and never stored, and the validator runs it before it
builds the ``Order``. ``parse_order`` reads an order back from the workflow (money as
decimal strings). An ``Order`` is valid by construction: its dataclasses check the same
rules, strip the text and hold money in cents, as ``Decimal``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from handlers.models import CENT, to_cents
from handlers.parsing import missing_fields, require, unknown_fields

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
# Control characters, lone surrogates, and unassigned code points: none belongs in a name
# or an address, and a lone surrogate cannot even be encoded for DynamoDB.
FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs", "Cn"})
# Money as ``Order.as_json_data`` writes it (and any other finite decimal number as text).
MONEY_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


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


def _validate_item(item: Any, path: str) -> list[str]:
    if not isinstance(item, dict):
        return [f"{path}: must be an object"]
    reasons = unknown_fields(item, ITEM_FIELDS, path) + missing_fields(item, ITEM_FIELDS, path)
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
    reasons = unknown_fields(address, ADDRESS_FIELDS + OPTIONAL_ADDRESS_FIELDS, "shipping_address")
    for name in ADDRESS_FIELDS:
        if name not in address:
            reasons.append(f"shipping_address.{name}: is required")
        else:
            reasons += _validate_text(address[name], f"shipping_address.{name}")
    for name in OPTIONAL_ADDRESS_FIELDS:
        if name in address:
            reasons += _validate_text(address[name], f"shipping_address.{name}")
    return reasons


def find_problems(data: Any) -> list[str]:
    """Every reason ``data`` does not have the shape of an order; empty when it has."""
    if not isinstance(data, dict):
        return ["order: must be a JSON object"]
    reasons = unknown_fields(data, ORDER_FIELDS) + missing_fields(data, ORDER_FIELDS)
    if "customer_id" in data:
        reasons += _validate_text(data["customer_id"], "customer_id")
    if "items" in data:
        reasons += _validate_items(data["items"])
    if "total_amount" in data:
        reasons += _validate_money(data["total_amount"], "total_amount")
    if "shipping_address" in data:
        reasons += _validate_address(data["shipping_address"])
    return reasons


def _set(instance: object, name: str, value: Any) -> None:
    object.__setattr__(instance, name, value)  # normalising a frozen dataclass as it is made


@dataclass(frozen=True)
class OrderItem:
    """One line of an order: a positive quantity of a product at a price in cents."""

    product_id: str
    quantity: int
    price: Decimal

    def __post_init__(self) -> None:
        require(
            _validate_text(self.product_id, "product_id")
            + _validate_quantity(self.quantity, "quantity")
            + _validate_money(self.price, "price"),
            "not an order item",
        )
        _set(self, "product_id", self.product_id.strip())
        _set(self, "price", to_cents(Decimal(self.price)))

    @property
    def line_total(self) -> Decimal:
        return self.price * self.quantity

    def as_dict(self) -> dict[str, Any]:
        return {"product_id": self.product_id, "quantity": self.quantity, "price": self.price}


@dataclass(frozen=True)
class ShippingAddress:
    """Where the order goes; ``country`` is optional."""

    street: str
    city: str
    state: str
    zip: str
    country: str | None = None

    def __post_init__(self) -> None:
        present = {name: value for name, value in vars(self).items() if value is not None}
        require(_validate_address(present), "not a shipping address")
        for name, value in present.items():
            _set(self, name, value.strip())

    def as_dict(self) -> dict[str, str]:
        """The address's fields, without ``country`` when it is absent."""
        return {name: value for name, value in vars(self).items() if value is not None}


@dataclass(frozen=True)
class Order:
    """A validated order, as the workflow stores it; money in cents, as ``Decimal``."""

    customer_id: str
    items: tuple[OrderItem, ...]
    total_amount: Decimal
    shipping_address: ShippingAddress

    def __post_init__(self) -> None:
        problems = _validate_text(self.customer_id, "customer_id") + _validate_money(
            self.total_amount, "total_amount"
        )
        if not 1 <= len(self.items) <= MAX_ITEMS:
            problems.append(f"items: must hold 1 to {MAX_ITEMS} items")
        require(problems, "not an order")
        _set(self, "customer_id", self.customer_id.strip())
        _set(self, "items", tuple(self.items))
        _set(self, "total_amount", to_cents(Decimal(self.total_amount)))

    def as_dict(self) -> dict[str, Any]:
        """The order as plain data, money as ``Decimal``: what the orders table stores."""
        return {
            "customer_id": self.customer_id,
            "items": [item.as_dict() for item in self.items],
            "total_amount": self.total_amount,
            "shipping_address": self.shipping_address.as_dict(),
        }

    def as_json_data(self) -> dict[str, Any]:
        """``as_dict`` with money as decimal strings: what crosses Step Functions as JSON,
        whose numbers a Lambda runtime would read back as ``float``."""
        data = self.as_dict()
        data["total_amount"] = str(self.total_amount)
        data["items"] = [{**item, "price": str(item["price"])} for item in data["items"]]
        return data


def _read_money(value: Any) -> Any:
    return Decimal(value) if isinstance(value, str) and MONEY_TEXT.fullmatch(value) else value


def _with_money_read(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` with money written as text read as ``Decimal``; a null ``country`` is absent."""
    result = dict(data)
    if "total_amount" in result:
        result["total_amount"] = _read_money(result["total_amount"])
    if isinstance(result.get("items"), list):
        result["items"] = [
            {**item, "price": _read_money(item["price"])}
            if isinstance(item, dict) and "price" in item
            else item
            for item in result["items"]
        ]
    address = result.get("shipping_address")
    if isinstance(address, dict) and "country" in address and address["country"] is None:
        result["shipping_address"] = {k: v for k, v in address.items() if k != "country"}
    return result


def parse_order(data: Any) -> Order:
    """The ``Order`` in ``data``: an order body (numbers as ``int`` or ``Decimal``) or an
    order's ``as_json_data`` (money as decimal strings). ``MalformedInputError`` names every
    problem otherwise, as ``find_problems`` words them."""
    if isinstance(data, dict):
        data = _with_money_read(data)
    require(find_problems(data), "not an order")
    return Order(
        customer_id=data["customer_id"],
        items=tuple(
            OrderItem(product_id=item["product_id"], quantity=item["quantity"], price=item["price"])
            for item in data["items"]
        ),
        total_amount=data["total_amount"],
        shipping_address=ShippingAddress(**data["shipping_address"]),
    )
