"""Promise 5, case by case: bad input is a 4xx naming the problem, and nothing is stored or started.

One case per kind of bad input, each sent to ``api_handler.handler`` as an API Gateway REST
(v1) proxy event. The status class follows the kind: 413 too many bytes, 415 not a JSON
content type, 400 a body that cannot be read as JSON (or is not an object), or a bad
Idempotency-Key, 422 a JSON object that is not an order. Every answer is a JSON error
``{"error": code, "message": text}`` whose message names the problem, and afterwards the
orders table is empty and no execution exists. Positive controls at the end show that the
same checks see an order when one is stored.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import boto3
import pytest

from handlers import api_handler, order_shape
from handlers.settings import MAX_ORDER_BODY_BYTES
from tests.unit.conftest import Tables
from tests.unit.support import Raw, api_event, fixture_data, fixture_text, json_text, scan_all

DEFAULT_LIMIT = 32 * 1024  # the documented default of MAX_ORDER_BODY_BYTES
VALID = fixture_text("valid_order.json")
DROP = object()


def order_with(*changes: tuple[tuple[str | int, ...], Any]) -> str:
    """The fixture order with values replaced (or dropped), written with exact numbers."""
    data: Any = copy.deepcopy(fixture_data("valid_order.json"))
    for path, value in changes:
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        if value is DROP:
            del parent[path[-1]]
        else:
            parent[path[-1]] = value
    return json_text(data)


def with_raw(old: str, new: str) -> str:
    """The fixture order's text with ``old`` written as ``new``, character for character."""
    assert VALID.count(old) == 1, old
    return VALID.replace(old, new)


def padded_to(size: int, text: str = VALID) -> str:
    """``text`` followed by spaces, ``size`` bytes in all: still the same JSON."""
    missing = size - len(text.encode("utf-8"))
    assert missing >= 0
    return text + " " * missing


@dataclass(frozen=True)
class Case:
    body: str | bytes | None  # bytes are sent base64-encoded
    status: int
    code: str
    mentions: tuple[str, ...]  # each appears in the message
    content_type: str | None = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    limit: int | None = None
    raw_base64: str | None = None

    def event(self) -> dict[str, Any]:
        if isinstance(self.body, bytes):
            event = api_event("POST", "/order", None, self.headers, base64_body=self.body, content_type=None)
        else:
            event = api_event("POST", "/order", self.body, self.headers, content_type=None)
        if self.content_type is not None:
            event["headers"]["Content-Type"] = self.content_type
        if self.raw_base64 is not None:
            event["body"] = self.raw_base64
            event["isBase64Encoded"] = True
        return event


def unreadable(body: str | bytes, *mentions: str) -> Case:
    return Case(body, 400, "invalid_json", ("JSON", *mentions))


def not_utf8(body: bytes) -> Case:
    return Case(body, 400, "invalid_encoding", ("UTF-8",))


def not_an_object(body: str) -> Case:
    return Case(body, 400, "invalid_order", ("JSON object",))


def not_an_order(body: str, *mentions: str) -> Case:
    return Case(body, 422, "invalid_order", mentions)


def wrong_media_type(content_type: str | None) -> Case:
    return Case(VALID, 415, "unsupported_media_type", ("Content-Type",), content_type=content_type)


def bad_key(key: str) -> Case:
    return Case(VALID, 400, "invalid_idempotency_key", ("Idempotency-Key",), headers={"Idempotency-Key": key})


PRICE = ("items", 0, "price")
QUANTITY = ("items", 0, "quantity")
TOTAL = ("total_amount",)
EE = "\u00e9"  # é: two bytes in UTF-8
ACCENTED = with_raw('"cust_123"', f'"{EE * 200}"')  # a valid order of 200 more bytes than characters
ACCENTED_LIMIT = len(ACCENTED) + 100

CASES: dict[str, Case] = {
    # --- malformed or truncated JSON: 400
    "malformed: trailing comma": unreadable('{"customer_id": "c",}'),
    "malformed: single quotes": unreadable("{'customer_id': 'cust_123'}"),
    "malformed: form fields as JSON": unreadable("customer_id=cust_123&total_amount=60.08"),
    "truncated at half": unreadable(VALID[: len(VALID) // 2]),
    "truncated inside a number": unreadable(VALID[: VALID.index("60.08") + 3]),
    "truncated by one character": unreadable(VALID.rstrip()[:-1]),
    # --- not a JSON object: 400 (the handler answers 400, not 422; see the report)
    "non-object: empty array": not_an_object("[]"),
    "non-object: array of the order": not_an_object(f"[{VALID}]"),
    "non-object: string": not_an_object('"order"'),
    "non-object: number": not_an_object("60.08"),
    "non-object: null": not_an_object("null"),
    "non-object: true": not_an_object("true"),
    # --- content type: 415
    "content type: text/plain": wrong_media_type("text/plain"),
    "content type: missing": wrong_media_type(None),
    "content type: empty": wrong_media_type(""),
    "content type: form": wrong_media_type("application/x-www-form-urlencoded"),
    "content type: text/json": wrong_media_type("text/json"),
    "content type: application/jsonp": wrong_media_type("application/jsonp"),
    "content type: xml": wrong_media_type("application/xml; charset=utf-8"),
    # --- size: 413, counted in bytes
    "size: default limit plus one byte": Case(
        padded_to(DEFAULT_LIMIT + 1), 413, "body_too_large", ("bytes", str(DEFAULT_LIMIT))
    ),
    "size: configured limit plus one byte": Case(
        padded_to(513), 413, "body_too_large", ("bytes", "512"), limit=512
    ),
    "size: fewer characters than the limit, more bytes": Case(
        ACCENTED, 413, "body_too_large", ("bytes", str(ACCENTED_LIMIT)), limit=ACCENTED_LIMIT
    ),
    # --- nesting: 400
    "deep nesting: arrays": Case(
        '{"a": ' + "[" * 5_000 + "]" * 5_000 + "}", 400, "invalid_json", ("nested",)
    ),
    "deep nesting: objects": Case('{"a": ' * 3_000 + "1" + "}" * 3_000, 400, "invalid_json", ("nested",)),
    # --- NaN and Infinity are not JSON: 400
    "NaN total": unreadable(order_with((TOTAL, Raw("NaN"))), "NaN"),
    "NaN alone": unreadable("NaN", "NaN"),
    "Infinity price": unreadable(order_with((PRICE, Raw("Infinity"))), "Infinity"),
    "-Infinity quantity": unreadable(order_with((QUANTITY, Raw("-Infinity"))), "Infinity"),
    # --- numbers Python or Decimal cannot hold: 400
    "overflow: 5000-digit integer quantity": unreadable(order_with((QUANTITY, Raw("9" * 5_000))), "digits"),
    "overflow: exponent beyond the range of Decimal in the total": unreadable(
        order_with((TOTAL, Raw("1e99999999999999999999")))
    ),
    "overflow: exponent beyond the range of Decimal in a quantity": unreadable(
        order_with((QUANTITY, Raw("1E+1000000000000000000")))
    ),
    "overflow: negative exponent beyond the range of Decimal in a price": unreadable(
        order_with((PRICE, Raw("1e-99999999999999999999")))
    ),
    # --- numbers that are JSON but not money or quantities: 422 naming the field
    "overflow: 1e400 total": not_an_order(order_with((TOTAL, Raw("1e400"))), "total_amount", "at most"),
    "overflow: 1e400 quantity": not_an_order(order_with((QUANTITY, Raw("1e400"))), "items[0].quantity"),
    "underflow: 1e-400 price": not_an_order(order_with((PRICE, Raw("1e-400"))), "items[0].price", "decimal"),
    "string price": not_an_order(order_with((PRICE, "29.99")), "items[0].price", "number"),
    "string quantity": not_an_order(order_with((QUANTITY, "2")), "items[0].quantity", "integer"),
    "string total": not_an_order(order_with((TOTAL, "60.08")), "total_amount", "number"),
    "boolean quantity": not_an_order(order_with((QUANTITY, True)), "items[0].quantity", "integer"),
    "null price": not_an_order(order_with((PRICE, None)), "items[0].price"),
    "negative quantity": not_an_order(order_with((QUANTITY, -1)), "items[0].quantity", "greater than 0"),
    "zero quantity": not_an_order(order_with((QUANTITY, 0)), "items[0].quantity", "greater than 0"),
    "fractional quantity": not_an_order(order_with((QUANTITY, Decimal("1.5"))), "items[0].quantity"),
    "integral decimal quantity 2.0": not_an_order(
        order_with((QUANTITY, Decimal("2.0"))), "items[0].quantity"
    ),
    "quantity over the maximum": not_an_order(
        order_with((QUANTITY, order_shape.MAX_QUANTITY + 1)),
        "items[0].quantity",
        str(order_shape.MAX_QUANTITY),
    ),
    "negative price": not_an_order(order_with((PRICE, Decimal("-0.01"))), "items[0].price"),
    "price with three decimals": not_an_order(order_with((PRICE, Decimal("29.999"))), "items[0].price"),
    "price with a far decimal": not_an_order(
        order_with((PRICE, Decimal("29.99000000000000000000000000001"))), "items[0].price"
    ),
    "price over the maximum": not_an_order(
        order_with((PRICE, order_shape.MAX_MONEY + Decimal("0.01"))),
        "items[0].price",
        str(order_shape.MAX_MONEY),
    ),
    # --- unknown and missing fields: 422
    "unknown field": not_an_order(order_with((("coupon",), "FREE")), "coupon", "unknown field"),
    "unknown item field": not_an_order(order_with((("items", 0, "discount"), 1)), "items[0].discount"),
    "unknown address field": not_an_order(
        order_with((("shipping_address", "planet"), "Mars")), "shipping_address.planet"
    ),
    "unknown field with a control character in its name": not_an_order(
        order_with((("\u0000evil",), 1)), "unknown field"
    ),
    "missing customer": not_an_order(order_with((("customer_id",), DROP)), "customer_id", "required"),
    "missing zip": not_an_order(order_with((("shipping_address", "zip"), DROP)), "shipping_address.zip"),
    "empty object": not_an_order("{}", *(f"{name}: is required" for name in order_shape.ORDER_FIELDS)),
    "no items": not_an_order(order_with((("items",), [])), "items", "at least one"),
    "too many items": not_an_order(
        order_with(
            (("items",), [{"product_id": "p", "quantity": 1, "price": 1}] * (order_shape.MAX_ITEMS + 1))
        ),
        "items",
        str(order_shape.MAX_ITEMS),
    ),
    "items as an object": not_an_order(order_with((("items",), {"a": 1})), "items", "list"),
    "an item that is not an object": not_an_order(order_with((("items", 0), "prod_001")), "items[0]"),
    "address as a string": not_an_order(
        order_with((("shipping_address",), "123 Main St")), "shipping_address"
    ),
    "blank customer": not_an_order(order_with((("customer_id",), " \t ")), "customer_id"),
    "overlong customer": not_an_order(
        order_with((("customer_id",), "c" * (order_shape.MAX_TEXT_LENGTH + 1))), "customer_id"
    ),
    # --- control characters: raw ones make invalid JSON (400), escaped ones a bad value (422)
    "raw control character in a string": unreadable(
        with_raw('"cust_123"', '"cust\x01123"'), "control character"
    ),
    "raw newline in a string": unreadable(with_raw('"123 Main St"', '"123 Main\nSt"'), "control character"),
    "raw NUL in a string": unreadable(with_raw('"Anytown"', '"Any\x00town"'), "control character"),
    "escaped NUL in the customer": not_an_order(with_raw('"cust_123"', '"cust\\u0000123"'), "customer_id"),
    "escaped escape in a product": not_an_order(
        with_raw('"prod_002"', '"prod\\u001b002"'), "items[1].product_id"
    ),
    "escaped DEL in the city": not_an_order(
        with_raw('"Anytown"', '"Any\\u007ftown"'), "shipping_address.city"
    ),
    # --- invalid UTF-8 (raw bytes in a base64-encoded event): 400
    "invalid UTF-8: 0xff": not_utf8(with_raw('"cust_123"', '"cust_\xff"').encode("latin-1")),
    "invalid UTF-8: Latin-1 e-acute": not_utf8(with_raw('"Anytown"', f'"Anyt{EE}wn"').encode("latin-1")),
    "invalid UTF-8: overlong slash": not_utf8(VALID.encode().replace(b'"CA"', b'"C\xc0\xafA"')),
    "invalid UTF-8: encoded surrogate": not_utf8(VALID.encode().replace(b'"CA"', b'"\xed\xa0\x80"')),
    "invalid UTF-8: beyond U+10FFFF": not_utf8(VALID.encode().replace(b'"CA"', b'"\xf4\x90\x80\x80"')),
    "invalid UTF-8: truncated sequence at the end": not_utf8(VALID.encode() + b"\xe2\x82"),
    "invalid UTF-8: raw lone surrogate in a text body": Case(
        with_raw('"cust_123"', '"cust\ud800"'), 400, "invalid_encoding", ("UTF-8",)
    ),
    "not base64": Case(None, 400, "invalid_body", ("base64",), raw_base64="!!not base64!!"),
    # --- lone surrogates, escaped, and unassigned code points: 422
    "escaped lone high surrogate": not_an_order(with_raw('"cust_123"', '"cust\\ud800"'), "customer_id"),
    "escaped lone low surrogate": not_an_order(
        with_raw('"123 Main St"', '"\\udc00"'), "shipping_address.street"
    ),
    "escaped lone surrogate as a field name": not_an_order(order_with((("\ud800",), 1)), "unknown field"),
    "unassigned code point": not_an_order(with_raw('"12345"', '"\\u0378"'), "shipping_address.zip"),
    # --- duplicate keys are ambiguous: 400
    "duplicate key": unreadable(
        with_raw('"customer_id": "cust_123",', '"customer_id": "a", "customer_id": "b",'),
        "customer_id",
        "twice",
    ),
    "duplicate key in an item": unreadable(
        with_raw('"quantity": 1,', '"quantity": 1, "quantity": 1,'), "quantity", "twice"
    ),
    # --- empty and blank bodies: 400
    "no body": Case(None, 400, "empty_body", ("empty",)),
    "empty body": Case("", 400, "empty_body", ("empty",)),
    "whitespace only": Case(" \t\r\n ", 400, "empty_body", ("empty",)),
    "empty base64 body": Case(b"", 400, "empty_body", ("empty",)),
    # --- a byte order mark is not JSON: 400
    "BOM in a text body": unreadable("\ufeff" + VALID, "BOM"),
    "BOM as bytes": unreadable(b"\xef\xbb\xbf" + VALID.encode(), "BOM"),
    # --- Idempotency-Key: 400
    "key: empty": bad_key(""),
    "key: space": bad_key("order 1"),
    "key: tab": bad_key("order\t1"),
    "key: NUL": bad_key("order\x001"),
    "key: DEL": bad_key("order\x7f1"),
    "key: non-ASCII": bad_key(f"cl{EE}"),
    "key: 256 characters": bad_key("k" * 256),
    "key: leading newline": bad_key("\norder-1"),
    "key: trailing newline": bad_key("order-1\n"),
}


def _executions(state_machine_arn: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = boto3.client("stepfunctions").list_executions(
        stateMachineArn=state_machine_arn
    )["executions"]
    return found


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_bad_input_is_a_4xx_naming_the_problem_and_stores_nothing(
    tables: Tables, state_machine_arn: str, monkeypatch: pytest.MonkeyPatch, case: Case
) -> None:
    if case.limit is not None:
        monkeypatch.setenv(MAX_ORDER_BODY_BYTES, str(case.limit))

    response = api_handler.handler(case.event(), None)

    assert response["statusCode"] == case.status, response
    assert response["headers"]["Content-Type"] == "application/json"
    body = json.loads(response["body"])
    assert body["error"] == case.code, body
    message = body["message"]
    assert isinstance(message, str) and message.strip(), body
    missing = [word for word in case.mentions if word not in message]
    assert missing == [], f"the message does not name {missing}: {message}"
    if case.status == 422:
        assert all(problem in message for problem in body["problems"]), body
    assert scan_all(tables.orders) == []
    assert _executions(state_machine_arn) == []


def test_the_corpus_has_every_status_class_the_promise_names() -> None:
    assert {case.status for case in CASES.values()} == {400, 413, 415, 422}


def test_each_malformed_body_is_malformed_for_the_reason_its_case_names() -> None:
    # The 422 cases must be well-formed JSON objects, so that the field, not the syntax, is refused.
    for name, case in CASES.items():
        if case.status == 422:
            assert isinstance(case.body, str), name
            assert order_shape.find_problems(json.loads(case.body, parse_float=Decimal)) != [], name


# --- positive controls: the same checks see an order when one is stored ----------------------


def _accept(case_body: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = api_handler.handler(api_event("POST", "/order", case_body, headers), None)
    assert response["statusCode"] == 202, response
    accepted: dict[str, Any] = json.loads(response["body"])
    return accepted


@pytest.mark.parametrize(
    "body",
    [VALID, fixture_text("order_with_wrong_total.json"), padded_to(DEFAULT_LIMIT), ACCENTED],
    ids=[
        "valid order",
        "wrong total (the workflow rejects it later)",
        "valid order at the default limit",
        "the accented order under the default limit",
    ],
)
def test_a_well_shaped_order_is_accepted_and_stored_as_sent(
    tables: Tables, state_machine_arn: str, body: str
) -> None:
    assert order_shape.find_problems(json.loads(body, parse_float=Decimal)) == []

    accepted = _accept(body)

    (stored,) = scan_all(tables.orders)
    assert stored["order_id"] == accepted["order_id"]
    assert stored["request_body"] == body
    assert [execution["name"] for execution in _executions(state_machine_arn)] == [accepted["order_id"]]


def test_a_body_at_a_configured_limit_is_accepted(
    tables: Tables, state_machine_arn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MAX_ORDER_BODY_BYTES, "512")

    _accept(padded_to(512))

    assert len(scan_all(tables.orders)) == 1


def test_a_valid_key_of_255_printable_characters_is_accepted(tables: Tables, state_machine_arn: str) -> None:
    key = "".join(chr(code) for code in range(0x21, 0x7F)) * 3

    _accept(VALID, {"Idempotency-Key": key[:255]})

    assert len(scan_all(tables.orders)) == 1
