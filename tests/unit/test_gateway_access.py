"""The local gateway's guard: API keys, SigV4 signatures, and gateway responses as API Gateway has them."""

from __future__ import annotations

import json

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from local.gateway import ApiRoute
from local.gateway_access import ApiAccess, SignedRequest, method_protection

REGION = "ap-south-1"
HOST = "127.0.0.1:8080"
BODY = b'{"customer_id": "c-1"}'
ACCESS = ApiAccess(
    api_keys=frozenset({"key-of-web-shop"}),
    responses={
        "INVALID_API_KEY": {
            "responseType": "INVALID_API_KEY",
            "statusCode": "403",
            "responseTemplates": {"application/json": '{"error": "invalid_api_key", "message": "m"}'},
            "responseParameters": {
                "gatewayresponse.header.Access-Control-Allow-Origin": "'https://a.example'"
            },
        },
        "DEFAULT_4XX": {
            "responseType": "DEFAULT_4XX",
            "responseTemplates": {"application/json": '{"error": "bad_request", "message": "m"}'},
        },
    },
    region=REGION,
)


def signed(credentials: Credentials, *, region: str = REGION, body: bytes = BODY) -> SignedRequest:
    """A request as botocore signs one for execute-api, the way an IAM caller would."""
    request = AWSRequest(
        method="POST", url=f"http://{HOST}/order?x=1", data=body, headers={"Content-Type": "application/json"}
    )
    SigV4Auth(credentials, "execute-api", region).add_auth(request)
    headers = {name.lower(): str(value) for name, value in request.headers.items()}
    return SignedRequest("POST", "/order", "x=1", {**headers, "host": HOST}, BODY)


def unsigned(**headers: str) -> SignedRequest:
    return SignedRequest("POST", "/order", "", {"host": HOST, **headers}, BODY)


def test_an_open_method_lets_anyone_in() -> None:
    assert ACCESS.refusal("none", unsigned()) is None


@pytest.mark.parametrize(
    ("headers", "refusal"),
    [
        ({}, "INVALID_API_KEY"),
        ({"x-api-key": "guess"}, "INVALID_API_KEY"),
        ({"x-api-key": "key-of-web-shop"}, None),
    ],
    ids=["no key", "wrong key", "listed key"],
)
def test_an_api_key_method_admits_only_listed_keys(headers: dict[str, str], refusal: str | None) -> None:
    assert ACCESS.refusal("api_key", unsigned(**headers)) == refusal


def test_a_request_signed_with_the_local_credentials_gets_in() -> None:
    assert ACCESS.refusal("iam", signed(Credentials("local", "local"))) is None


def test_an_unsigned_request_misses_its_authentication_token() -> None:
    assert ACCESS.refusal("iam", unsigned()) == "MISSING_AUTHENTICATION_TOKEN"


@pytest.mark.parametrize(
    "request_",
    [
        signed(Credentials("local", "not-the-secret")),
        signed(Credentials("someone-else", "local")),
        signed(Credentials("local", "local"), region="us-east-1"),
        unsigned(authorization="AWS4-HMAC-SHA256 garbage", **{"x-amz-date": "20260101T000000Z"}),
    ],
    ids=["wrong secret", "unknown access key", "other region", "malformed"],
)
def test_a_bad_signature_is_refused(request_: SignedRequest) -> None:
    assert ACCESS.refusal("iam", request_) == "INVALID_SIGNATURE"


def test_a_body_changed_after_signing_is_refused() -> None:
    good = signed(Credentials("local", "local"))
    tampered = SignedRequest(good.method, good.path, good.query, good.headers, b'{"customer_id": "c-2"}')
    assert ACCESS.refusal("iam", tampered) == "INVALID_SIGNATURE"


def test_a_gateway_response_gives_status_headers_and_body() -> None:
    error = ACCESS.error("INVALID_API_KEY")
    assert error.status == 403
    assert ("Access-Control-Allow-Origin", "https://a.example") in error.headers
    assert json.loads(error.body)["error"] == "invalid_api_key"


def test_a_type_without_its_own_response_falls_back_to_default_4xx_keeping_its_status() -> None:
    error = ACCESS.error("MISSING_AUTHENTICATION_TOKEN")
    assert error.status == 403
    assert json.loads(error.body)["error"] == "bad_request"


def test_without_gateway_responses_api_gateways_defaults_remain() -> None:
    error = ApiAccess().error("DEFAULT_5XX")
    assert (error.status, json.loads(error.body)) == (502, {"message": "Internal server error"})


def test_method_protection_reads_the_emulators_method() -> None:
    assert method_protection({"authorizationType": "AWS_IAM", "apiKeyRequired": False}) == "iam"
    assert method_protection({"authorizationType": "NONE", "apiKeyRequired": True}) == "api_key"
    assert method_protection({"authorizationType": "NONE"}) == "none"


def test_a_method_without_its_own_definition_is_protected_as_the_any_serving_it() -> None:
    route = ApiRoute.build(
        "/order",
        {"POST": "fn", "ANY": "fn", "OPTIONS": "fn"},
        {"POST": "api_key", "ANY": "api_key", "OPTIONS": "none"},
    )
    assert route.protection_for("DELETE") == "api_key"
    assert route.protection_for("OPTIONS") == "none"
