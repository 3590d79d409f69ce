"""Only known clients, and CORS, on the local stack over HTTP: the local gateway enforces
the API keys, usage plan and gateway responses the program created in the emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from local.pulumi_runner import PROJECT_ROOT
from local.stack import LocalStack, LocalStackOptions
from tests.integration.stack_process import FAST_RETRIES, HttpResult, http

VALID_ORDER = (PROJECT_ROOT / "tests/fixtures/valid_order.json").read_bytes()
SHOP = "https://shop.example.com"
ELSEWHERE = "https://evil.example.net"
ACCESS = {
    "dofs:apiAuth": "api_key",
    "dofs:apiClients": json.dumps(["web-shop", "partner"]),
    # One origin: gateway responses can carry it too (components/gateway_responses.py).
    "dofs:corsAllowOrigins": json.dumps([SHOP]),
}


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    options = LocalStackOptions(api_port=0, aws_port=0, config={**FAST_RETRIES, **ACCESS})
    with LocalStack(options) as running:
        yield running


def _keys(stack: LocalStack) -> dict[str, str]:
    keys: dict[str, str] = stack.outputs["api_keys"]
    return keys


def _post_order(stack: LocalStack, **headers: str) -> HttpResult:
    return http("POST", f"{stack.api_url}/order", VALID_ORDER, headers)


def _allowed_origin(result: HttpResult) -> str | None:
    return {k.lower(): v for k, v in result.headers.items()}.get("access-control-allow-origin")


def test_each_client_has_its_own_key_and_each_gets_in(stack: LocalStack) -> None:
    keys = _keys(stack)
    assert set(keys) == {"web-shop", "partner"}
    assert len(set(keys.values())) == 2
    for key in keys.values():
        assert _post_order(stack, **{"x-api-key": key}).status == 202


@pytest.mark.parametrize(
    "headers", [{}, {"x-api-key": "not-a-key-of-this-stack"}], ids=["no key", "wrong key"]
)
def test_a_request_without_a_known_key_is_a_403_in_the_api_error_shape(
    stack: LocalStack, headers: dict[str, str]
) -> None:
    refused = _post_order(stack, **headers)
    assert refused.status == 403
    assert refused.headers["Content-Type"] == "application/json"
    assert refused.body["error"] == "invalid_api_key"
    assert "x-api-key" in refused.body["message"]


def test_a_wrong_method_on_a_protected_resource_needs_a_key_too(stack: LocalStack) -> None:
    assert http("DELETE", f"{stack.api_url}/order").status == 403
    assert (
        http("DELETE", f"{stack.api_url}/order", headers={"x-api-key": _keys(stack)["web-shop"]}).status
        == 405
    )


def test_health_stays_open(stack: LocalStack) -> None:
    assert http("GET", f"{stack.api_url}/health").status == 200


def test_a_preflight_needs_no_key_and_names_methods_and_headers(stack: LocalStack) -> None:
    preflight = http(
        "OPTIONS",
        f"{stack.api_url}/order",
        headers={"Origin": SHOP, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status == 204
    assert _allowed_origin(preflight) == SHOP
    assert set(preflight.headers["Access-Control-Allow-Methods"].split(", ")) == {"POST", "OPTIONS"}
    allowed_headers = {h.lower() for h in preflight.headers["Access-Control-Allow-Headers"].split(", ")}
    assert allowed_headers >= {"content-type", "idempotency-key", "x-api-key"}


def test_a_listed_origin_is_echoed_on_success_and_on_errors(stack: LocalStack) -> None:
    key = _keys(stack)["web-shop"]
    accepted = _post_order(stack, **{"x-api-key": key, "Origin": SHOP})
    handler_error = http(
        "GET", f"{stack.api_url}/orders/no-such-order", headers={"x-api-key": key, "Origin": SHOP}
    )
    gateway_error = _post_order(stack, Origin=SHOP)
    assert (accepted.status, handler_error.status, gateway_error.status) == (202, 404, 403)
    assert [_allowed_origin(r) for r in (accepted, handler_error, gateway_error)] == [SHOP, SHOP, SHOP]


def test_a_disallowed_origin_gets_no_cors_header(stack: LocalStack) -> None:
    key = _keys(stack)["web-shop"]
    accepted = _post_order(stack, **{"x-api-key": key, "Origin": ELSEWHERE})
    preflight = http("OPTIONS", f"{stack.api_url}/order", headers={"Origin": ELSEWHERE})
    assert accepted.status == 202
    assert _allowed_origin(accepted) is None
    assert _allowed_origin(preflight) is None
