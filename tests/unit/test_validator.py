"""validator λ: a complete list of reasons for a bad order, exact Decimal money for a good one."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from handlers import order_shape, parsing, validator
from handlers.errors import MalformedInputError
from handlers.order_shape import parse_order
from tests.unit.support import Raw, find_floats, fixture_data, fixture_text, json_text

Mutation = Callable[[dict[str, Any]], None]


def valid_order() -> dict[str, Any]:
    order: dict[str, Any] = fixture_data("valid_order.json")
    return order


def body_with(mutate: Mutation) -> str:
    order = valid_order()
    mutate(order)
    return json_text(order)


def reasons_for(body: str) -> tuple[str, ...]:
    outcome = validator.validate_order("order-under-test", body)
    assert outcome.valid is False, f"expected {body!r} to be rejected"
    assert outcome.order is None
    return outcome.reasons


def _set(path: str, value: Any) -> Mutation:
    """A mutation that sets (or, with ``...``, deletes) one field; path like ``items.0.price``."""

    def mutate(order: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = order
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        key: Any = int(last) if isinstance(target, list) else last
        if value is ...:
            del target[key]
        else:
            target[key] = value

    return mutate


def test_the_valid_fixture_order_passes_with_decimal_money(valid_order_text: str) -> None:
    outcome = validator.validate_order("order-1", valid_order_text)

    assert outcome.valid is True
    assert outcome.reasons == ()
    assert outcome.order_id == "order-1"
    order = outcome.order
    assert order is not None
    assert order.customer_id == "cust_123"
    assert isinstance(order.total_amount, Decimal)
    assert order.total_amount == Decimal("60.08")
    prices = [item.price for item in order.items]
    assert all(isinstance(price, Decimal) for price in prices)
    assert prices == [Decimal("29.99"), Decimal("0.10")]
    assert [item.quantity for item in order.items] == [2, 1]
    assert sum((item.line_total for item in order.items), Decimal(0)) == order.total_amount
    assert order.shipping_address.city == "Anytown"


# (mutation, the path the single reason must name, a word the reason must contain or None)
SINGLE_PROBLEMS: dict[str, tuple[Mutation, str, str | None]] = {
    "missing customer_id": (_set("customer_id", ...), "customer_id", "required"),
    "blank customer_id": (_set("customer_id", "   "), "customer_id", "non-empty"),
    "numeric customer_id": (_set("customer_id", 123), "customer_id", "string"),
    "overlong customer_id": (_set("customer_id", "c" * 257), "customer_id", "256"),
    "missing items": (_set("items", ...), "items", "required"),
    "empty items": (_set("items", []), "items", "at least one"),
    "items not a list": (_set("items", {"product_id": "p"}), "items", "list"),
    "too many items": (
        _set("items", [{"product_id": "p", "quantity": 1, "price": Decimal("1.00")}] * 101),
        "items",
        "at most",
    ),
    "item not an object": (_set("items.0", "prod_001"), "items[0]", "object"),
    "missing product_id": (_set("items.0.product_id", ...), "items[0].product_id", "required"),
    "blank product_id": (_set("items.1.product_id", ""), "items[1].product_id", "non-empty"),
    "missing quantity": (_set("items.0.quantity", ...), "items[0].quantity", "required"),
    "quantity 0": (_set("items.0.quantity", 0), "items[0].quantity", "greater than 0"),
    "negative quantity": (_set("items.0.quantity", -2), "items[0].quantity", "greater than 0"),
    "fractional quantity": (_set("items.0.quantity", Decimal("1.5")), "items[0].quantity", "integer"),
    "bool quantity": (_set("items.0.quantity", True), "items[0].quantity", "integer"),
    "integral decimal quantity": (_set("items.0.quantity", Raw("2.0")), "items[0].quantity", "integer"),
    "quantity over the bound": (_set("items.0.quantity", 100_001), "items[0].quantity", "at most 100000"),
    "price over the bound": (
        _set("items.0.price", Raw("1000000000000.00")),
        "items[0].price",
        "at most 999999999999.99",
    ),
    "string quantity": (_set("items.0.quantity", "2"), "items[0].quantity", "integer"),
    "missing price": (_set("items.0.price", ...), "items[0].price", "required"),
    "price with 3 decimals": (_set("items.0.price", Decimal("29.999")), "items[0].price", "decimal places"),
    "tiny price": (_set("items.0.price", Decimal("0.001")), "items[0].price", "decimal places"),
    "negative price": (_set("items.0.price", Decimal("-29.99")), "items[0].price", "greater than or equal"),
    "price as string": (_set("items.0.price", "29.99"), "items[0].price", "number"),
    "price null": (_set("items.0.price", None), "items[0].price", "number"),
    "bool price": (_set("items.1.price", False), "items[1].price", "number"),
    "unknown item field": (_set("items.0.discount", Decimal("1.00")), "items[0].discount", "unknown"),
    "missing total": (_set("total_amount", ...), "total_amount", "required"),
    "total with 3 decimals": (_set("total_amount", Decimal("60.080001")), "total_amount", "decimal places"),
    "total as string": (_set("total_amount", "60.08"), "total_amount", "number"),
    "negative total": (_set("total_amount", Decimal("-60.08")), "total_amount", "greater than or equal"),
    "total mismatch": (_set("total_amount", Decimal("60.09")), "total_amount", "sum"),
    "missing address": (_set("shipping_address", ...), "shipping_address", "required"),
    "address not an object": (_set("shipping_address", "123 Main St"), "shipping_address", "object"),
    "missing street": (_set("shipping_address.street", ...), "shipping_address.street", "required"),
    "missing zip": (_set("shipping_address.zip", ...), "shipping_address.zip", "required"),
    "numeric zip": (_set("shipping_address.zip", 12345), "shipping_address.zip", "string"),
    "blank country": (_set("shipping_address.country", " "), "shipping_address.country", "non-empty"),
    "unknown address field": (_set("shipping_address.apt", "4B"), "shipping_address.apt", "unknown"),
    "unknown order field": (_set("coupon", "SAVE10"), "coupon", "unknown"),
    "NUL in customer_id": (_set("customer_id", "cust\x00123"), "customer_id", "control"),
    "newline in product_id": (_set("items.0.product_id", "prod\n001"), "items[0].product_id", "control"),
    "lone surrogate in city": (
        _set("shipping_address.city", "Any\ud800town"),
        "shipping_address.city",
        "surrogate",
    ),
    "unassigned code point in zip": (
        _set("shipping_address.zip", "123\u0378"),
        "shipping_address.zip",
        "unassigned",
    ),
    "DEL in street": (_set("shipping_address.street", "123\x7fMain"), "shipping_address.street", "control"),
    # Numbers too large for the Decimal context must be refused, not crash the step.
    "price 1e400": (_set("items.0.price", Raw("1e400")), "items[0].price", None),
    "price with 29 integer digits": (
        _set("items.0.price", Raw("12345678901234567890123456789.01")),
        "items[0].price",
        None,
    ),
    "total 1e400": (_set("total_amount", Raw("1e400")), "total_amount", None),
}


@pytest.mark.parametrize(
    ("mutate", "path", "word"), list(SINGLE_PROBLEMS.values()), ids=list(SINGLE_PROBLEMS)
)
def test_one_wrong_field_gives_exactly_one_reason_naming_it(
    mutate: Mutation, path: str, word: str | None
) -> None:
    reasons = reasons_for(body_with(mutate))

    assert len(reasons) == 1, reasons
    assert reasons[0].startswith(f"{path}: "), reasons
    if word is not None:
        assert word in reasons[0].lower(), reasons


def _prefixes(reasons: tuple[str, ...]) -> list[str]:
    return sorted(reason.split(": ", 1)[0] for reason in reasons)


def test_every_reason_is_listed_when_many_fields_are_wrong() -> None:
    body = json_text(
        {
            "items": [
                {"product_id": "p0", "quantity": 0, "price": Decimal("1.00")},
                {"product_id": "p1", "quantity": Decimal("1.5"), "price": Decimal("1.00")},
                {"product_id": "p2", "quantity": 1, "price": Decimal("1.005")},
                {"product_id": "p3", "quantity": 1, "price": Decimal("-1.00")},
                {"product_id": "p4", "quantity": 1, "price": "1.00"},
                {"product_id": "p5", "quantity": True, "price": Decimal("1.00")},
            ],
            "total_amount": Decimal("6.00"),
            "shipping_address": {"street": "1 High St", "state": "CA"},
            "coupon": "SAVE10",
        }
    )

    reasons = reasons_for(body)

    assert _prefixes(reasons) == sorted(
        [
            "customer_id",
            "items[0].quantity",
            "items[1].quantity",
            "items[2].price",
            "items[3].price",
            "items[4].price",
            "items[5].quantity",
            "shipping_address.city",
            "shipping_address.zip",
            "coupon",
        ]
    )


def test_every_top_level_problem_is_listed_together() -> None:
    body = json_text({"customer_id": "", "items": [], "total_amount": Decimal("1.001"), "extra": 1})

    reasons = reasons_for(body)

    assert _prefixes(reasons) == sorted(["customer_id", "items", "total_amount", "shipping_address", "extra"])


def test_the_invalid_fixture_is_rejected_for_its_missing_customer_only() -> None:
    reasons = reasons_for(fixture_text("invalid_order_missing_customer.json"))

    assert _prefixes(reasons) == ["customer_id"]


def test_the_wrong_total_fixture_has_the_shape_of_an_order_but_not_a_consistent_total() -> None:
    order = fixture_data("order_with_wrong_total.json")

    assert order_shape.find_problems(order) == []
    (inconsistency,) = validator.find_inconsistencies(order)
    assert inconsistency.startswith("total_amount: ")
    assert "60.08" in inconsistency, "the reason names the sum of the items"
    assert "60.18" in inconsistency, "and the total the client sent"
    assert reasons_for(fixture_text("order_with_wrong_total.json")) == (inconsistency,)


def test_the_valid_fixture_has_neither_problems_nor_inconsistencies() -> None:
    assert order_shape.find_problems(valid_order()) == []
    assert validator.find_inconsistencies(valid_order()) == []


def test_inconsistencies_are_only_looked_for_once_the_shape_is_right() -> None:
    # A shape problem and a wrong total: only the problem is reported, never a crash on the sum.
    body = body_with(_set("items.0.quantity", "2"))

    assert _prefixes(reasons_for(body)) == ["items[0].quantity"]


def test_printable_text_in_any_script_is_accepted() -> None:
    body = body_with(_set("shipping_address.city", "Zürich 東京 Αθήνα"))

    assert validator.validate_order("order-u", body).valid is True


def test_an_overlong_unknown_field_name_is_truncated_in_its_reason() -> None:
    name = "x" * 1000

    (reason,) = reasons_for(body_with(_set(name, 1)))

    assert reason.endswith(": unknown field")
    assert len(reason) < parsing.MAX_NAME_IN_MESSAGE + 40
    assert reason.startswith(repr("x" * parsing.MAX_NAME_IN_MESSAGE) + "...")


@pytest.mark.parametrize("name", ["bad\nname", "\x1b[31mred", "a\u202eb"], ids=["newline", "escape", "bidi"])
def test_an_unprintable_unknown_field_name_is_ascii_escaped_in_its_reason(name: str) -> None:
    (reason,) = reasons_for(body_with(_set(f"shipping_address.{name}", "x")))

    assert reason == f"shipping_address.{name!a}: unknown field"
    assert reason.isascii() and reason.isprintable()


def test_a_short_printable_unknown_field_name_is_shown_as_sent() -> None:
    (reason,) = reasons_for(body_with(_set("items.0.coupon_é", "x")))

    assert reason == "items[0].coupon_é: unknown field"


def test_a_key_named_twice_is_not_valid_json() -> None:
    body = fixture_text("valid_order.json").replace('"zip": "12345"', '"zip": "12345", "zip": "99999"')

    assert _prefixes(reasons_for(body)) == ["order"]


def _two_item_order(first: Decimal, second: Decimal, total: Any) -> str:
    return json_text(
        {
            "customer_id": "cust_1",
            "items": [
                {"product_id": "a", "quantity": 1, "price": first},
                {"product_id": "b", "quantity": 1, "price": second},
            ],
            "total_amount": total,
            "shipping_address": {"street": "s", "city": "c", "state": "st", "zip": "z"},
        }
    )


@pytest.mark.parametrize("total", [Decimal("0.3"), Decimal("0.30"), Decimal("0.300")])
def test_totals_are_compared_exactly_in_decimal(total: Decimal) -> None:
    # In binary floating point 0.1 + 0.2 != 0.3; the validator must not be fooled either way.
    outcome = validator.validate_order("o", _two_item_order(Decimal("0.1"), Decimal("0.2"), total))

    assert outcome.valid is True, outcome.reasons
    assert outcome.order is not None
    assert outcome.order.total_amount == Decimal("0.3")


def test_the_float_sum_of_point_one_and_point_two_is_not_a_valid_total() -> None:
    reasons = reasons_for(_two_item_order(Decimal("0.1"), Decimal("0.2"), Raw("0.30000000000000004")))

    assert _prefixes(reasons) == ["total_amount"]


def test_a_total_one_cent_off_is_rejected_and_the_reason_names_the_expected_sum() -> None:
    reasons = reasons_for(_two_item_order(Decimal("0.1"), Decimal("0.2"), Decimal("0.31")))

    assert _prefixes(reasons) == ["total_amount"]
    assert "0.3" in reasons[0]


def test_large_exact_totals_are_accepted() -> None:
    body = json_text(
        {
            "customer_id": "cust_big",
            "items": [{"product_id": "p", "quantity": 100, "price": Decimal("9999999.99")}],
            "total_amount": Decimal("999999999.00"),
            "shipping_address": {"street": "s", "city": "c", "state": "st", "zip": "z"},
        }
    )

    outcome = validator.validate_order("o", body)

    assert outcome.valid is True, outcome.reasons
    assert outcome.order is not None
    assert outcome.order.total_amount == Decimal("999999999")


@pytest.mark.parametrize("body", ["[]", '[{"customer_id": "c"}]', '"an order"', "42", "null", "true"])
def test_a_body_that_is_not_an_object_is_rejected(body: str) -> None:
    reasons = reasons_for(body)

    assert _prefixes(reasons) == ["order"]
    assert "object" in reasons[0]


@pytest.mark.parametrize(
    "body",
    [
        "",
        "{",
        "{'customer_id': 'c'}",
        "NaN",
        '{"total_amount": NaN}',
        '{"total_amount": Infinity}',
        '{"total_amount": -Infinity}',
        "[" * 5_000 + "]" * 5_000,
    ],
    ids=["empty", "truncated", "single quotes", "NaN", "NaN total", "Infinity", "-Infinity", "deep nesting"],
)
def test_text_that_is_not_json_is_rejected_with_one_reason(body: str) -> None:
    reasons = reasons_for(body)

    assert _prefixes(reasons) == ["order"]
    assert "JSON" in reasons[0]


def test_nan_price_is_never_accepted() -> None:
    reasons = reasons_for(body_with(_set("items.0.price", Raw("NaN"))))

    assert reasons


def test_handler_output_for_a_valid_order_is_what_the_state_machine_reads(valid_order_text: str) -> None:
    output = validator.handler({"order_id": "order-42", "request_body": valid_order_text}, None)

    assert set(output) == {"order_id", "valid", "reasons", "order"}
    assert output["order_id"] == "order-42"
    assert output["valid"] is True
    assert output["reasons"] == []
    order = output["order"]
    assert find_floats(output) == []
    assert isinstance(order["total_amount"], str)
    assert Decimal(order["total_amount"]) == Decimal("60.08")
    assert all(isinstance(item["price"], str) for item in order["items"])
    assert [Decimal(item["price"]) for item in order["items"]] == [Decimal("29.99"), Decimal("0.10")]
    assert [item["quantity"] for item in order["items"]] == [2, 1]
    # The payload crosses Step Functions as JSON and comes back as the same exact order.
    assert json.loads(json.dumps(output)) == output
    assert parse_order(order) == validator.validate_order("order-42", valid_order_text).order


def test_handler_output_for_an_invalid_order_lists_reasons_and_no_order() -> None:
    body = fixture_text("invalid_order_missing_customer.json")

    output = validator.handler({"order_id": "order-43", "request_body": body}, None)

    assert set(output) == {"order_id", "valid", "reasons", "order"}
    assert output["valid"] is False
    assert output["order"] is None
    assert isinstance(output["reasons"], list)
    assert [reason.split(":")[0] for reason in output["reasons"]] == ["customer_id"]
    assert json.loads(json.dumps(output)) == output


def test_handler_does_not_raise_for_unparseable_bodies() -> None:
    output = validator.handler({"order_id": "order-44", "request_body": "not json"}, None)

    assert output["valid"] is False
    assert output["reasons"]


@pytest.mark.parametrize(
    "event",
    [{"order_id": "o"}, {"request_body": "{}"}, {"order_id": "o", "request_body": "{}", "extra": 1}],
    ids=["no body", "no order id", "unknown field"],
)
def test_handler_refuses_an_event_that_is_not_workflow_input(event: dict[str, Any]) -> None:
    with pytest.raises(MalformedInputError):
        validator.handler(event, None)
