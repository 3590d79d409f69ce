"""models: Decimal money end to end, strict order shapes, stable JSON."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from typing import Any

import pytest

from handlers.errors import MalformedInputError
from handlers.messages import FulfillmentMessage
from handlers.models import TERMINAL_STATUSES, OrderStatus, dump_json, parse_json_decimal
from handlers.order_intake import fingerprint, order_id_for
from handlers.order_shape import OrderItem, parse_order
from tests.unit.support import fixture_data, fixture_text


def test_parse_json_decimal_reads_fractions_as_decimal_and_integers_as_int() -> None:
    data = parse_json_decimal('{"price": 29.99, "cents": 0.10, "quantity": 2, "big": 1e3}')

    assert data == {"price": Decimal("29.99"), "cents": Decimal("0.10"), "quantity": 2, "big": Decimal("1e3")}
    assert isinstance(data["price"], Decimal)
    assert isinstance(data["quantity"], int)
    assert str(data["cents"]) == "0.10"


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"a": -Infinity}'])
def test_parse_json_decimal_refuses_non_json_numbers(text: str) -> None:
    with pytest.raises(ValueError):
        parse_json_decimal(text)


@pytest.mark.parametrize(
    "text",
    ['{"a": 1, "a": 1}', '{"a": 1, "b": {"c": 1, "c": 2}}', '[{"x": 1}, {"x": 1, "x": 2}]'],
    ids=["top level, same value", "nested object", "object in a list"],
)
def test_parse_json_decimal_refuses_a_key_named_twice_in_one_object(text: str) -> None:
    with pytest.raises(ValueError, match="twice"):
        parse_json_decimal(text)


def test_the_same_key_in_different_objects_is_fine() -> None:
    assert parse_json_decimal('[{"a": 1}, {"a": 2}, {"b": {"a": 3}}]') == [
        {"a": 1},
        {"a": 2},
        {"b": {"a": 3}},
    ]


def test_a_duplicated_key_is_named_bounded_and_ascii_in_the_error() -> None:
    key = "\u00e9" + "k" * 500

    with pytest.raises(ValueError) as raised:
        parse_json_decimal(f'{{"{key}": 1, "{key}": 2}}')

    message = str(raised.value)
    assert message.isascii()
    assert "\\xe9" + "k" * 63 in message
    assert "k" * 64 not in message


def test_dump_json_writes_decimal_as_exact_strings_with_sorted_keys() -> None:
    text = dump_json({"b": Decimal("0.10"), "a": [Decimal("29.99"), 2]})

    assert text == '{"a":["29.99",2],"b":"0.10"}'
    assert json.loads(text)["b"] == "0.10"


def test_dump_json_refuses_what_it_cannot_represent() -> None:
    with pytest.raises(TypeError):
        dump_json({"when": object()})


def test_the_fixture_order_models_with_exact_line_totals() -> None:
    order = parse_order(fixture_data("valid_order.json"))

    assert [item.line_total for item in order.items] == [Decimal("59.98"), Decimal("0.10")]
    assert sum((item.line_total for item in order.items), Decimal(0)) == order.total_amount


def test_line_totals_are_exact_where_floats_are_not() -> None:
    item = OrderItem(product_id="p", quantity=3, price=Decimal("0.10"))

    assert 0.1 * 3 != 0.3
    assert item.line_total == Decimal("0.30")


@pytest.mark.parametrize(
    "item",
    [
        {"product_id": "p", "quantity": 0, "price": "1.00"},
        {"product_id": "p", "quantity": 1, "price": "1.001"},
        {"product_id": "p", "quantity": 1, "price": "-0.01"},
        {"product_id": " ", "quantity": 1, "price": "1.00"},
        {"product_id": "p", "quantity": 1, "price": "1.00", "discount": "0.10"},
    ],
    ids=["zero quantity", "three decimals", "negative", "blank product", "unknown field"],
)
def test_order_items_refuse_invalid_lines(item: dict[str, Any]) -> None:
    with pytest.raises(MalformedInputError, match=r"items\[0\]"):
        parse_order({**fixture_data("valid_order.json"), "items": [item]})


def test_orders_are_frozen_and_need_an_item() -> None:
    data = fixture_data("valid_order.json")
    order = parse_order(data)
    with pytest.raises(dataclasses.FrozenInstanceError):
        order.customer_id = "someone-else"  # type: ignore[misc]
    with pytest.raises(MalformedInputError, match="items"):
        parse_order({**data, "items": []})


def test_terminal_statuses_are_the_final_ones() -> None:
    assert {
        OrderStatus.FULFILLED,
        OrderStatus.FULFILLMENT_FAILED,
        OrderStatus.REJECTED,
    } == TERMINAL_STATUSES
    assert OrderStatus.PENDING_FULFILLMENT not in TERMINAL_STATUSES


def test_fulfillment_messages_need_an_order_id() -> None:
    assert FulfillmentMessage.from_json('{"order_id": " o-1 "}').order_id == "o-1"
    with pytest.raises(MalformedInputError, match="order_id"):
        FulfillmentMessage.from_json('{"order_id": "  "}')


def test_the_same_idempotency_key_always_names_the_same_order() -> None:
    assert order_id_for("key-1") == order_id_for("key-1")
    assert order_id_for("key-1") != order_id_for("key-2")
    assert order_id_for(None) != order_id_for(None)


def test_the_fingerprint_ignores_key_order_and_spacing_but_not_values_or_types() -> None:
    original = parse_json_decimal(fixture_text("valid_order.json"))
    reordered = dict(reversed(list(original.items())))

    assert fingerprint(reordered) == fingerprint(original)
    assert fingerprint(parse_json_decimal('{"a": 1, "b": 2.50}')) == fingerprint(
        parse_json_decimal('{ "b" :2.50 ,"a":1 }')
    )
    assert fingerprint(parse_json_decimal('{"a": 0.10}')) != fingerprint(parse_json_decimal('{"a": 0.1}'))
    assert fingerprint({"a": 1}) != fingerprint({"a": "1"})
    assert fingerprint({"a": Decimal("1.0")}) != fingerprint({"a": 1})
    assert fingerprint({"a": True}) != fingerprint({"a": 1})


@pytest.mark.parametrize(
    ("raw", "cents"),
    [
        ("1E+2", "100.00"),
        ("-0.00", "0.00"),
        ("-0", "0.00"),
        ("0.1", "0.10"),
        ("29.99", "29.99"),
        ("0.300", "0.30"),
        ("7", "7.00"),
    ],
)
def test_money_is_normalised_to_cents(raw: str, cents: str) -> None:
    item = OrderItem(product_id="p", quantity=1, price=Decimal(raw))
    order = parse_order({**fixture_data("valid_order.json"), "total_amount": Decimal(raw)})

    for amount in (item.price, order.total_amount):
        assert isinstance(amount, Decimal)
        assert str(amount) == cents
        assert not amount.is_signed()
    assert order.as_json_data()["total_amount"] == cents


def test_money_from_json_text_is_normalised_to_cents() -> None:
    item = OrderItem(**parse_json_decimal('{"product_id": "p", "quantity": 1, "price": 1e2}'))

    assert str(item.price) == "100.00"


def test_money_too_long_to_write_in_cents_is_refused_not_crashing() -> None:
    with pytest.raises(MalformedInputError, match="price"):
        OrderItem(product_id="p", quantity=1, price=Decimal("1E+30"))
