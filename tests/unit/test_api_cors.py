"""api_handler's CORS: preflights, and the request's Origin echoed only when it is listed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from handlers import api_handler
from handlers.cors import allowed_origins
from handlers.errors import ConfigurationError
from handlers.settings import CORS_ALLOW_ORIGINS
from tests.unit.conftest import Tables
from tests.unit.support import api_event, fixture_text

SHOP = "https://shop.example.com"
ADMIN = "https://admin.example.com"


@pytest.fixture
def api(handler_tables: Tables, state_machine_arn: str, monkeypatch: pytest.MonkeyPatch) -> Tables:
    monkeypatch.setenv(CORS_ALLOW_ORIGINS, json.dumps([SHOP, ADMIN]))
    return handler_tables


def call(method: str, path: str, origin: str | None, body: str | None = None) -> dict[str, Any]:
    headers = {"Origin": origin} if origin else {}
    content_type = "application/json" if body is not None else None
    return api_handler.handler(api_event(method, path, body, headers, content_type=content_type), None)


def _headers(response: dict[str, Any]) -> dict[str, str]:
    headers: dict[str, str] = response["headers"]
    return headers


@pytest.mark.parametrize("origin", [SHOP, ADMIN])
def test_a_listed_origin_is_echoed_on_an_accepted_order(api: Tables, origin: str) -> None:
    response = call("POST", "/order", origin, fixture_text("valid_order.json"))
    assert response["statusCode"] == 202
    assert _headers(response)["Access-Control-Allow-Origin"] == origin
    assert _headers(response)["Vary"] == "Origin"


def test_a_listed_origin_is_echoed_on_an_error_too(api: Tables) -> None:
    response = call("POST", "/order", SHOP, "{not json")
    assert response["statusCode"] == 400
    assert _headers(response)["Access-Control-Allow-Origin"] == SHOP


@pytest.mark.parametrize("origin", ["https://evil.example.net", "https://shop.example.com.evil.net", None])
def test_any_other_origin_gets_no_allow_origin(api: Tables, origin: str | None) -> None:
    response = call("GET", "/health", origin)
    assert response["statusCode"] == 200
    assert "Access-Control-Allow-Origin" not in _headers(response)
    assert _headers(response)["Vary"] == "Origin"


def test_a_preflight_names_the_paths_methods_and_the_allowed_headers(api: Tables) -> None:
    response = call("OPTIONS", "/orders/abc-123", SHOP)
    headers = _headers(response)
    assert response["statusCode"] == 204
    assert response["body"] == ""
    assert headers["Access-Control-Allow-Origin"] == SHOP
    assert headers["Access-Control-Allow-Methods"] == "GET, OPTIONS"
    assert headers["Access-Control-Allow-Headers"] == "Content-Type, Idempotency-Key, x-api-key"
    assert int(headers["Access-Control-Max-Age"]) > 0


def test_a_preflight_from_an_unlisted_origin_allows_nothing_to_it(api: Tables) -> None:
    response = call("OPTIONS", "/order", "https://evil.example.net")
    assert response["statusCode"] == 204
    assert "Access-Control-Allow-Origin" not in _headers(response)


def test_a_preflight_on_an_unknown_path_is_a_404(api: Tables) -> None:
    response = call("OPTIONS", "/nowhere", SHOP)
    assert response["statusCode"] == 404
    assert _headers(response)["Access-Control-Allow-Origin"] == SHOP


def test_without_origins_there_is_no_cors_and_options_is_a_405(
    handler_tables: Tables, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(CORS_ALLOW_ORIGINS, raising=False)
    preflight = call("OPTIONS", "/order", SHOP)
    health = call("GET", "/health", SHOP)
    assert preflight["statusCode"] == 405
    assert not {h for h in [*_headers(preflight), *_headers(health)] if h.startswith("Access-Control")}
    assert "Vary" not in _headers(health)


@pytest.mark.parametrize("raw", ["https://shop.example.com", '{"a": 1}', "[1]"])
def test_a_malformed_origin_list_is_a_configuration_error_naming_the_variable(raw: str) -> None:
    with pytest.raises(ConfigurationError, match=CORS_ALLOW_ORIGINS):
        allowed_origins({CORS_ALLOW_ORIGINS: raw})
