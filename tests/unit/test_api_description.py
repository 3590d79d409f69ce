"""GET /openapi.json: the document follows the routes, the statuses and the order's rules."""

from __future__ import annotations

import copy
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]  # via schemathesis

from components.api_description import ERROR_RESPONSES, is_stale, render
from handlers import api_description, api_handler
from handlers.api_routes import ROUTES
from handlers.errors import ConfigurationError
from handlers.order_shape import (
    ADDRESS_FIELDS,
    ITEM_FIELDS,
    MAX_ITEMS,
    MAX_MONEY,
    MAX_QUANTITY,
    MAX_TEXT_LENGTH,
    ORDER_FIELDS,
    find_problems,
)
from tests.unit.support import api_event, fixture_data, fixture_text

HANDLERS_DIR = Path(api_handler.__file__).parent
# Money compared exactly: a float reading of 999999999999.99 is below the real bound.
DOCUMENTS: dict[str, Any] = json.loads(api_description.DOCUMENT_FILE.read_text(), parse_float=Decimal)


def _validator(document: dict[str, Any], schema_name: str) -> Draft202012Validator:
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": document["components"]}
    return Draft202012Validator(schema)


ORDER_SCHEMA = _validator(DOCUMENTS["none"], "Order")


def test_the_committed_document_is_what_the_generator_makes() -> None:
    assert not is_stale(), "handlers/openapi.json is stale: run `make openapi`"


def test_a_changed_document_is_stale(tmp_path: Path) -> None:
    edited = tmp_path / "openapi.json"
    edited.write_text(render().replace('"maxItems": 100', '"maxItems": 99'))

    assert is_stale(edited)
    assert is_stale(tmp_path / "missing.json")


@pytest.mark.parametrize("mode", api_description.AUTH_MODES)
def test_every_route_is_described_and_nothing_else(mode: str) -> None:
    described = {(path, method.upper()) for path, item in DOCUMENTS[mode]["paths"].items() for method in item}

    assert described == {(route.resource, route.method) for route in ROUTES}


@pytest.mark.parametrize("mode", ["api_key", "iam"])
def test_the_security_scheme_guards_the_authenticated_routes_only(mode: str) -> None:
    document = DOCUMENTS[mode]
    (scheme_name,) = document["components"]["securitySchemes"]
    for route in ROUTES:
        operation = document["paths"][route.resource][route.method.lower()]
        assert operation["security"] == ([{scheme_name: []}] if route.authenticated else [])
        assert ("403" in operation["responses"]) is route.authenticated


def test_the_schemes_are_an_api_key_header_and_sigv4() -> None:
    assert DOCUMENTS["api_key"]["components"]["securitySchemes"]["api_key"] == {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
    }
    sigv4 = DOCUMENTS["iam"]["components"]["securitySchemes"]["sigv4"]
    assert sigv4["x-amazon-apigateway-authtype"] == "awsSigv4"
    assert "securitySchemes" not in DOCUMENTS["none"]["components"]
    assert all(op["security"] == [] for item in DOCUMENTS["none"]["paths"].values() for op in item.values())


def test_every_status_the_handlers_raise_is_documented() -> None:
    """A new ``ApiError(4xx...`` anywhere in the handlers needs a documented response."""
    raised = {
        int(status)
        for path in HANDLERS_DIR.glob("*.py")
        for status in re.findall(r"ApiError\(\s*(\d{3})", path.read_text())
    }
    documented = set(ERROR_RESPONSES) | {200, 202}

    assert raised - {500} <= documented
    assert {400, 403, 404, 405, 409, 413, 415, 422, 503} <= set(ERROR_RESPONSES)


def test_a_503_carries_retry_after_and_a_422_its_problems() -> None:
    responses = DOCUMENTS["none"]["components"]["responses"]

    assert "Retry-After" in responses["503"]["headers"]
    assert "Allow" in responses["405"]["headers"]
    invalid = DOCUMENTS["none"]["components"]["schemas"]["InvalidOrder"]
    assert "problems" in invalid["required"]


def test_the_idempotency_key_header_is_described_on_the_posts() -> None:
    for route in ROUTES:
        operation = DOCUMENTS["none"]["paths"][route.resource][route.method.lower()]
        headers = [p for p in operation.get("parameters", []) if p["in"] == "header"]
        if route.method == "POST":
            (header,) = headers
            assert header["name"] == "Idempotency-Key"
            assert header["schema"]["pattern"] == "^[\\x21-\\x7e]{1,255}$"
        else:
            assert headers == []


def _body(**changes: Any) -> dict[str, Any]:
    order: dict[str, Any] = copy.deepcopy(fixture_data("valid_order.json"))
    for path, value in changes.items():
        target, *keys = path.split("__")
        node: Any = order
        for key in [target, *keys][:-1]:
            node = node[int(key)] if isinstance(node, list) else node[key]
        last = [target, *keys][-1]
        if value is _DROP:
            del node[last]
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return order


_DROP = object()
LONGEST = "x" * MAX_TEXT_LENGTH
CENT = Decimal("0.01")
ITEM = {"product_id": "p", "quantity": 1, "price": 1}

ACCEPTED = {
    "the fixture": _body(),
    "a country": _body(shipping_address__country="IN"),
    "longest text": _body(customer_id=LONGEST, items__0__product_id=LONGEST),
    "padded text": _body(customer_id="  c  "),
    "largest quantity": _body(items__0__quantity=MAX_QUANTITY),
    "free and dearest": _body(items__0__price=0, total_amount=MAX_MONEY),
    "most items": _body(items=[ITEM] * MAX_ITEMS),
    "integer money": _body(total_amount=60),
}
REFUSED = {
    "empty text": _body(customer_id=""),
    "blank text": _body(customer_id="   "),
    "text too long": _body(shipping_address__city=LONGEST + "x"),
    "a control character": _body(items__0__product_id="a\x07b"),
    "empty country": _body(shipping_address__country=""),
    "null country": _body(shipping_address__country=None),
    "quantity 0": _body(items__0__quantity=0),
    "quantity too large": _body(items__0__quantity=MAX_QUANTITY + 1),
    "fractional quantity": _body(items__0__quantity=Decimal("1.5")),
    "string quantity": _body(items__0__quantity="2"),
    "boolean quantity": _body(items__0__quantity=True),
    "negative price": _body(items__0__price=-CENT),
    "money too large": _body(total_amount=MAX_MONEY + CENT),
    "three decimals": _body(items__0__price=Decimal("0.001")),
    "money as a string": _body(total_amount="60.08"),
    "no items": _body(items=[]),
    "too many items": _body(items=[ITEM] * (MAX_ITEMS + 1)),
    "not an object": [_body()],
    **{f"no {name}": _body(**{name: _DROP}) for name in ORDER_FIELDS},
    **{f"no item {name}": _body(**{f"items__0__{name}": _DROP}) for name in ITEM_FIELDS},
    **{f"no address {name}": _body(**{f"shipping_address__{name}": _DROP}) for name in ADDRESS_FIELDS},
    "unknown field": _body(coupon="X"),
    "unknown item field": _body(items__0__colour="red"),
    "unknown address field": _body(shipping_address__floor=3),
}
# What the edge refuses and a JSON Schema cannot: (the body as the edge reads it, as a
# JSON Schema validator does). JSON Schema calls 2.0 an integer, and no portable pattern
# names the unassigned code points. The field descriptions say so.
ONLY_THE_EDGE_REFUSES = {
    "integral quantity written 2.0": (
        _body(items__0__quantity=Decimal("2.0")),
        _body(items__0__quantity=2.0),
    ),
    "an unassigned code point": (_body(customer_id="c\U000e0080"), _body(customer_id="c\U000e0080")),
}


@pytest.mark.parametrize("body", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_the_document_accepts_what_the_edge_accepts(body: Any) -> None:
    assert find_problems(body) == []
    assert list(ORDER_SCHEMA.iter_errors(body)) == []


@pytest.mark.parametrize("body", REFUSED.values(), ids=REFUSED.keys())
def test_the_document_refuses_what_the_edge_refuses(body: Any) -> None:
    assert find_problems(body) != []
    assert list(ORDER_SCHEMA.iter_errors(body)) != []


@pytest.mark.parametrize("bodies", ONLY_THE_EDGE_REFUSES.values(), ids=ONLY_THE_EDGE_REFUSES.keys())
def test_what_only_the_edge_refuses_is_known(bodies: tuple[Any, Any]) -> None:
    as_the_edge_reads, as_json_schema_reads = bodies

    assert find_problems(as_the_edge_reads) != []
    assert list(ORDER_SCHEMA.iter_errors(as_json_schema_reads)) == []


def _served(event: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    response = api_handler.handler(event, None)
    return response["statusCode"], response["headers"], json.loads(response["body"], parse_float=Decimal)


@pytest.mark.parametrize("mode", api_description.AUTH_MODES)
def test_the_handler_serves_the_stack_modes_document(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_AUTH", mode)

    status, headers, body = _served(api_event("GET", "/openapi.json", content_type=None))

    assert (status, headers["Content-Type"]) == (200, "application/json")
    servers = body.pop("servers")
    assert body == DOCUMENTS[mode]
    assert servers[0]["url"].startswith("https://")


def test_an_unknown_auth_mode_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_AUTH", "basic")

    with pytest.raises(ConfigurationError, match="API_AUTH"):
        api_description.auth_mode()


def _documented(document: dict[str, Any], method: str, resource: str, status: int) -> dict[str, Any]:
    responses = document["paths"][resource][method.lower()]["responses"]
    assert str(status) in responses, f"{method} {resource} answered an undocumented {status}"
    response: dict[str, Any] = responses[str(status)]
    if "$ref" in response:
        response = document["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return response


LONG_BODY = json.dumps({"customer_id": "x" * 40_000})
# Refusals the edge makes before anything is stored: (method, path, resource, event kwargs).
REFUSALS = {
    "415": ("POST", "/order", "/order", {"body": "{}", "content_type": "text/plain"}),
    "400 not JSON": ("POST", "/orders", "/orders", {"body": "{"}),
    "413": ("POST", "/order", "/order", {"body": LONG_BODY}),
    "422": ("POST", "/order", "/order", {"body": '{"coupon": 1}'}),
    "400 idempotency key": (
        "POST",
        "/order",
        "/order",
        {"body": fixture_text("valid_order.json"), "headers": {"Idempotency-Key": "a b"}},
    ),
    "400 order id": ("GET", "/orders/a_b", "/orders/{order_id}", {"content_type": None}),
    "405 empty order id": ("GET", "/orders/", "/orders/{order_id}", {"content_type": None}),
    "200 health": ("GET", "/health", "/health", {"content_type": None}),
}


@pytest.mark.parametrize("case", REFUSALS.values(), ids=REFUSALS.keys())
def test_each_answer_is_documented_with_its_body_and_headers(case: Any, handler_env: None) -> None:
    method, path, resource, kwargs = case
    document = copy.deepcopy(DOCUMENTS["none"])

    status, headers, body = _served(api_event(method, path, **kwargs))

    response = _documented(document, method, resource, status)
    schema = response["content"]["application/json"]["schema"]
    Draft202012Validator({**schema, "components": document["components"]}).validate(body)
    assert set(response.get("headers", {})) <= set(headers)
