"""The local gateway's API Gateway semantics: route priority, proxy events and responses."""

from __future__ import annotations

import base64

import pytest

from local.gateway import ApiRoute, GatewayRequest, http_response, match_route, proxy_event

FN = "arn:aws:lambda:ap-south-1:123456789012:function:f"
ROUTES = sorted(
    [
        ApiRoute.build("/", {"ANY": FN}),
        ApiRoute.build("/{proxy+}", {"ANY": FN}),
        ApiRoute.build("/orders", {"POST": FN, "ANY": FN}),
        ApiRoute.build("/orders/{order_id}", {"GET": FN}),
        ApiRoute.build("/orders/latest", {"GET": FN}),
    ],
    key=lambda r: r.rank,
)


@pytest.mark.parametrize(
    ("path", "resource", "parameters"),
    [
        ("/", "/", {}),
        ("/orders", "/orders", {}),
        ("/orders/", "/orders", {}),
        ("/orders/latest", "/orders/latest", {}),
        ("/orders/o-1", "/orders/{order_id}", {"order_id": "o-1"}),
        ("/orders/a%20b", "/orders/{order_id}", {"order_id": "a b"}),
        ("/orders/o-1/items", "/{proxy+}", {"proxy": "orders/o-1/items"}),
        ("/health", "/{proxy+}", {"proxy": "health"}),
    ],
)
def test_literal_beats_parameter_beats_greedy(path: str, resource: str, parameters: dict[str, str]) -> None:
    matched = match_route(ROUTES, path)

    assert matched is not None
    assert (matched[0].resource_path, matched[1]) == (resource, parameters)


def test_a_method_without_its_own_integration_falls_back_to_any() -> None:
    orders = next(r for r in ROUTES if r.resource_path == "/orders")
    one_order = next(r for r in ROUTES if r.resource_path == "/orders/{order_id}")

    assert orders.function_for("DELETE") == FN
    assert one_order.function_for("DELETE") is None


def _request(body: bytes, query: str = "") -> GatewayRequest:
    headers = {"Content-Type": ["application/json"], "X-Tag": ["a", "b"]}
    return GatewayRequest("POST", "/orders", query, headers, body, "127.0.0.1")


def test_proxy_event_is_a_rest_v1_event() -> None:
    route = next(r for r in ROUTES if r.resource_path == "/orders")

    event = proxy_event(_request(b'{"a": 1}', "x=1&x=2&y="), route, {}, "dev")

    assert event["resource"] == "/orders"
    assert (event["httpMethod"], event["path"], event["body"]) == ("POST", "/orders", '{"a": 1}')
    assert event["isBase64Encoded"] is False
    assert event["headers"]["X-Tag"] == "b"
    assert event["multiValueHeaders"]["X-Tag"] == ["a", "b"]
    assert event["queryStringParameters"] == {"x": "2", "y": ""}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"], "y": [""]}
    assert event["pathParameters"] is None
    assert event["requestContext"]["stage"] == "dev"
    assert event["requestContext"]["path"] == "/dev/orders"


def test_a_body_that_is_not_utf8_arrives_base64_encoded() -> None:
    route = next(r for r in ROUTES if r.resource_path == "/orders")

    event = proxy_event(_request(b"\xff\xfe"), route, {}, "dev")

    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff\xfe"


def test_proxy_response_becomes_the_http_response() -> None:
    response = http_response(
        {"statusCode": 201, "headers": {"A": "1"}, "multiValueHeaders": {"B": ["2", "3"]}, "body": "hi"}
    )

    assert (response.status, response.body) == (201, b"hi")
    assert response.headers == [("A", "1"), ("B", "2"), ("B", "3")]


@pytest.mark.parametrize(
    "payload",
    [None, "text", {"body": "no status"}, {"statusCode": "200"}, {"statusCode": 200, "body": {"not": "str"}}],
)
def test_a_malformed_proxy_response_is_refused(payload: object) -> None:
    with pytest.raises(ValueError, match="malformed Lambda proxy response"):
        http_response(payload)
