"""Property tests of money: exact Decimal from the JSON text to DynamoDB and back, never float.

Amounts are generated as integer cents and quantities as integers, so every expectation is
computed in integer arithmetic, independently of the Decimal code under test. Examples are
derandomized (no example database), so every run checks the same orders.
"""

from __future__ import annotations

import itertools
import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers import order_shape, order_storage, validator
from handlers.models import CENT, OrderStatus, dump_json, parse_json_decimal, to_cents
from handlers.order_intake import public_view
from handlers.order_shape import Order, parse_order
from tests.support.properties import reproducible
from tests.unit.conftest import Tables
from tests.unit.support import Raw, find_floats, get_item, json_text, seed_order

MAX_CENTS = int(order_shape.MAX_MONEY * 100)
TWO_PLACES = re.compile(r"^(0|[1-9][0-9]*)\.[0-9]{2}$")
EXPECTED_SUM = re.compile(r"sum of the items \(([^)]*)\)")
_order_ids = itertools.count()


money_settings = reproducible


def cents_text(cents: int) -> str:
    """``cents`` written with two decimals, by integer arithmetic only."""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def amount(cents: int) -> Decimal:
    return Decimal(cents_text(cents))


def walk(value: Any) -> list[Any]:
    """Every scalar in a nested structure of dicts, lists and tuples."""
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in walk(item)]
    if isinstance(value, list | tuple):
        return [leaf for item in value for leaf in walk(item)]
    return [value]


# --- strategies ------------------------------------------------------------------------------

CENTS = st.one_of(st.integers(0, 100_000), st.integers(0, MAX_CENTS))
QUANTITIES = st.one_of(st.integers(1, 10), st.integers(1, order_shape.MAX_QUANTITY))


@st.composite
def spelled_money(draw: st.DrawFn, cents: int) -> Raw:
    """One of the ways JSON can write ``cents`` exactly: ``29.99``, ``2999E-2``, ``29.990``, ``1E+2``..."""
    spellings = [cents_text(cents), f"{cents}E-2", f"{cents}e-02", cents_text(cents) + "000"]
    if cents % 100 == 0:
        spellings += [str(cents // 100), f"{cents // 100}.0", str(Decimal(cents // 100).normalize())]
        if cents:
            spellings.append(f"{cents // 100}E0")
    if cents % 10 == 0:
        spellings.append(f"{cents // 10}E-1")
    return Raw(draw(st.sampled_from(spellings)))


def _order_text(draw: st.DrawFn, lines: list[tuple[int, int]], total_cents: int) -> str:
    """An order of ``lines`` (price cents, quantity) and the given total, money spelled variously."""
    order = {
        "customer_id": "cust_123",
        "items": [
            {"product_id": f"prod_{index}", "quantity": quantity, "price": draw(spelled_money(cents))}
            for index, (cents, quantity) in enumerate(lines)
        ],
        "total_amount": draw(spelled_money(total_cents)),
        "shipping_address": {"street": "1 Main St", "city": "Anytown", "state": "CA", "zip": "12345"},
    }
    return json_text(order)


@st.composite
def order_texts(draw: st.DrawFn) -> tuple[str, list[tuple[int, int]], int]:
    """A well-shaped order as JSON text, its (price cents, quantity) lines and its total in cents."""
    lines = draw(st.lists(st.tuples(CENTS, QUANTITIES), min_size=1, max_size=order_shape.MAX_ITEMS))
    exact = sum(cents * quantity for cents, quantity in lines)
    total = draw(
        st.one_of(
            st.just(exact),
            st.just(exact),
            st.integers(-3, 3).filter(bool).map(lambda delta: max(exact + delta, 0)),
            CENTS,
        )
    )
    return _order_text(draw, lines, total), lines, total


# --- validation: exact totals ----------------------------------------------------------------


@money_settings(400)
@given(generated=order_texts())
def test_an_order_is_valid_exactly_when_its_total_is_the_exact_sum(
    generated: tuple[str, list[tuple[int, int]], int],
) -> None:
    text, lines, total = generated
    exact = sum(cents * quantity for cents, quantity in lines)
    assert order_shape.find_problems(parse_json_decimal(text)) == [] or total > MAX_CENTS

    outcome = validator.validate_order("ord-money", text)

    assert outcome.valid == (total == exact and total <= MAX_CENTS), outcome.reasons
    if outcome.valid:
        assert outcome.order is not None
        assert outcome.order.total_amount == amount(exact)
        assert str(outcome.order.total_amount) == cents_text(exact)
        line_totals = sum((item.line_total for item in outcome.order.items), start=Decimal(0))
        assert line_totals == amount(exact)
        assert [(item.price, item.quantity) for item in outcome.order.items] == [
            (amount(cents), quantity) for cents, quantity in lines
        ]
    elif total <= MAX_CENTS:
        (reason,) = outcome.reasons
        assert reason.startswith("total_amount:"), reason
        named = EXPECTED_SUM.search(reason)
        assert named is not None, reason
        assert Decimal(named.group(1)) == amount(exact), reason


# --- the order model: Decimal in, Decimal out ------------------------------------------------


def _valid_order(text: str) -> Order:
    outcome = validator.validate_order("ord-model", text)
    assert outcome.valid and outcome.order is not None, outcome.reasons
    return outcome.order


@st.composite
def valid_order_texts(draw: st.DrawFn) -> tuple[str, list[tuple[int, int]]]:
    """Orders whose total is the exact sum and within bounds."""
    lines = draw(st.lists(st.tuples(st.integers(0, 10**7), st.integers(1, 1_000)), min_size=1, max_size=20))
    exact = sum(cents * quantity for cents, quantity in lines)
    return _order_text(draw, lines, exact), lines


def _money_fields(dumped: dict[str, Any]) -> list[Any]:
    return [dumped["total_amount"], *(item["price"] for item in dumped["items"])]


@money_settings(300)
@given(generated=valid_order_texts())
def test_the_order_model_round_trips_money_as_two_place_decimals(
    generated: tuple[str, list[tuple[int, int]]],
) -> None:
    text, lines = generated
    order = _valid_order(text)
    expected_money = [cents_text(sum(c * q for c, q in lines)), *(cents_text(c) for c, _ in lines)]

    python_dump = order.as_dict()
    assert find_floats(python_dump) == []
    assert all(isinstance(leaf, str | int | Decimal) for leaf in walk(python_dump) if leaf is not None)
    money = _money_fields(python_dump)
    assert all(isinstance(value, Decimal) for value in money)
    assert [str(value) for value in money] == expected_money
    assert parse_order(python_dump) == order

    json_dump = order.as_json_data()
    assert find_floats(json_dump) == []
    assert _money_fields(json_dump) == expected_money
    assert parse_order(json_dump) == order

    written = json.dumps(json_dump)
    assert parse_order(json.loads(written)) == order
    assert find_floats(parse_json_decimal(written)) == []
    assert parse_order(parse_json_decimal(dump_json(python_dump))) == order


def test_a_validated_order_is_stored_and_shown_with_exact_money(handler_tables: Tables) -> None:
    @money_settings(200)
    @given(generated=valid_order_texts())
    def check(generated: tuple[str, list[tuple[int, int]]]) -> None:
        text, lines = generated
        order_id = f"ord-money-{next(_order_ids)}"
        outcome = validator.handler({"order_id": order_id, "request_body": text}, None)
        assert outcome["valid"], outcome["reasons"]
        seed_order(handler_tables.orders, order_id, OrderStatus.RECEIVED.value, request_body=text)

        order_storage.handler(
            {"operation": "store_validated", "order_id": order_id, "order": outcome["order"]}, None
        )

        item = get_item(handler_tables.orders, order_id)
        assert item is not None
        assert item["status"] == OrderStatus.PENDING_FULFILLMENT.value
        assert find_floats(item) == []
        exact = sum(cents * quantity for cents, quantity in lines)
        assert item["total_amount"] == amount(exact)
        assert [(line["price"], line["quantity"]) for line in item["items"]] == [
            (amount(cents), quantity) for cents, quantity in lines
        ]
        view = public_view(item)
        assert view["total_amount"] == cents_text(exact)
        assert [(line["price"], line["quantity"]) for line in view["items"]] == [
            (cents_text(cents), quantity) for cents, quantity in lines
        ]

    check()


# --- to_cents --------------------------------------------------------------------------------

EXTRA_PLACES = st.integers(0, 6)


@money_settings(400)
@given(cents=st.integers(-(10**20), 10**20), extra=EXTRA_PLACES, trailing=st.integers(0, 10**6 - 1))
def test_to_cents_writes_two_places_idempotently_and_within_half_a_cent(
    cents: int, extra: int, trailing: int
) -> None:
    # cents + trailing / 10**6 cents, written with ``extra`` more places than cents need.
    digits = trailing % 10**extra if extra else 0
    value = Decimal(f"{cents_text(cents)}{digits:0{extra}d}" if extra else cents_text(cents))
    exact_cents = Decimal(cents) + (
        Decimal(digits).scaleb(-extra) if cents >= 0 else -Decimal(digits).scaleb(-extra)
    )

    result = to_cents(value)

    assert result.as_tuple().exponent == -2
    assert TWO_PLACES.match(str(result).lstrip("-")), str(result)
    assert to_cents(result) == result
    assert str(to_cents(result)) == str(result)
    assert abs(result.scaleb(2) - exact_cents) <= Decimal("0.5")
    if digits == 0:
        assert str(result) == cents_text(cents)
    assert not (result.is_zero() and result.is_signed())


@money_settings(200)
@given(exponent=st.integers(-40, 40), negative=st.booleans(), tiny=st.integers(0, 4))
def test_to_cents_never_writes_a_negative_zero(exponent: int, negative: bool, tiny: int) -> None:
    # Zero of any sign and exponent, and amounts under half a cent, are all 0.00.
    zero = Decimal((1 if negative else 0, (0,), exponent))
    under_half_cent = Decimal((1 if negative else 0, (tiny,), -3))

    for value in (zero, under_half_cent):
        result = to_cents(value)

        assert str(result) == "0.00", value
        assert not result.is_signed()


@money_settings(200)
@given(digits=st.integers(27, 60), negative=st.booleans())
def test_to_cents_refuses_amounts_too_long_for_cents_with_a_value_error(digits: int, negative: bool) -> None:
    value = Decimal(("-" if negative else "") + "9" * digits)

    with pytest.raises(ValueError, match="too many digits"):
        to_cents(value)


@money_settings(300)
@given(cents=st.integers(0, MAX_CENTS))
def test_money_as_read_back_from_dynamodb_is_shown_with_its_two_decimals(cents: int) -> None:
    # DynamoDB keeps the number, not its spelling: 100.00 comes back as 1E+2 and 0.10 as 0.1.
    read_back = amount(cents).normalize()
    item = {
        "order_id": "ord-view",
        "status": "PENDING_FULFILLMENT",
        "customer_id": "c",
        "total_amount": read_back,
        "items": [{"product_id": "p", "quantity": Decimal(1), "price": read_back}],
    }

    view = public_view(item)

    assert view["total_amount"] == cents_text(cents)
    assert view["items"][0]["price"] == cents_text(cents)
    assert Decimal(view["total_amount"]) == read_back
    assert view["items"][0]["quantity"] == 1


# --- JSON numbers are parsed exactly, never as float -----------------------------------------

SIGNS = st.sampled_from(["", "-"])
WHOLE = st.one_of(st.just("0"), st.integers(1, 10**40).map(str))
FRACTION = st.one_of(st.just(""), st.text("0123456789", min_size=1, max_size=40).map(lambda d: f".{d}"))


def _exponents(values: st.SearchStrategy[int]) -> st.SearchStrategy[str]:
    return st.builds(
        lambda marker, sign, n: f"{marker}{sign}{n}",
        st.sampled_from("eE"),
        st.sampled_from(["", "+", "-"]),
        values,
    )


def _numbers(exponents: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(lambda *parts: "".join(parts), SIGNS, WHOLE, FRACTION, exponents)


NUMBERS = _numbers(st.one_of(st.just(""), _exponents(st.integers(0, 10**6))))
FAR_NUMBERS = _numbers(_exponents(st.one_of(st.integers(10**17, 10**19), st.integers(10**19, 10**30))))


@money_settings(400)
@given(
    token=NUMBERS, wrap=st.sampled_from(["{}", '{{"price": {}}}', "[{}]", '{{"items": [{{"price": {}}}]}}'])
)
def test_json_numbers_parse_to_int_or_the_exact_decimal_and_never_float(token: str, wrap: str) -> None:
    parsed = parse_json_decimal(wrap.format(token))

    (leaf,) = walk(parsed)
    assert find_floats(parsed) == []
    if any(marker in token for marker in ".eE"):
        assert isinstance(leaf, Decimal)
        assert leaf.as_tuple() == Decimal(token).as_tuple()  # the spelling too: 0.10 stays 0.10
    else:
        assert type(leaf) is int
        assert leaf == int(token)


@money_settings(200)
@given(token=FAR_NUMBERS)
def test_json_numbers_beyond_decimal_range_are_a_value_error_or_exact(token: str) -> None:
    # Decimal holds exponents up to 10**18 - 1; beyond that a number is not readable, and the
    # callers (the API, the validator) expect ValueError for text they cannot read.
    try:
        expected = Decimal(token)
    except InvalidOperation:
        with pytest.raises(ValueError):
            parse_json_decimal(token)
        return
    parsed = parse_json_decimal(token)
    assert isinstance(parsed, Decimal)
    assert parsed.as_tuple() == expected.as_tuple()


def test_the_cent_is_a_hundredth() -> None:
    assert CENT * 100 == 1
    assert cents_text(-5) == "-0.05"
    assert cents_text(12_345) == "123.45"
