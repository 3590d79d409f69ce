"""What the local gateway enforces before a request reaches a function, read from the
emulator as the program created it: each method's protection (API key or IAM), the
API keys of the usage plans on the stage, and the API's gateway responses.

IAM: a request must carry a SigV4 ``Authorization`` for service ``execute-api`` signed
with the local credentials (``local``/``local``); the signature is recomputed and
compared. Policies are not evaluated: a correctly signed request is allowed.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.client import BaseClient
from botocore.credentials import Credentials

API_KEY_HEADER = "x-api-key"
SIGV4_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)"
    r"/aws4_request, ?SignedHeaders=(?P<signed>[a-z0-9;-]+), ?Signature=(?P<signature>[0-9a-f]{64})"
)
# API Gateway's own statuses and bodies, used where the API defines no gateway response.
DEFAULT_STATUS = {
    "INVALID_API_KEY": 403,
    "MISSING_AUTHENTICATION_TOKEN": 403,
    "INVALID_SIGNATURE": 403,
    "REQUEST_TOO_LARGE": 413,
    "INTEGRATION_TIMEOUT": 504,
    "DEFAULT_5XX": 502,
}
DEFAULT_MESSAGE = {
    "INVALID_API_KEY": "Forbidden",
    "MISSING_AUTHENTICATION_TOKEN": "Missing Authentication Token",
    "INVALID_SIGNATURE": "The request signature we calculated does not match the signature you provided.",
    "REQUEST_TOO_LARGE": "Request Too Long",
    "INTEGRATION_TIMEOUT": "Endpoint request timed out",
    "DEFAULT_5XX": "Internal server error",
}


@dataclass(frozen=True)
class GatewayErrorResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True)
class SignedRequest:
    """What a SigV4 check needs of a request; header names lower-case."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class ApiAccess:
    api_keys: frozenset[str] = frozenset()
    responses: Mapping[str, dict[str, object]] = field(default_factory=dict)
    region: str = "us-east-1"
    credentials: Credentials = field(default_factory=lambda: Credentials("local", "local"))

    def refusal(self, protection: str, request: SignedRequest) -> str | None:
        """The gateway response type refusing ``request`` under ``protection``; None: let in."""
        if protection == "api_key":
            return None if request.headers.get(API_KEY_HEADER) in self.api_keys else "INVALID_API_KEY"
        if protection == "iam":
            return self._sigv4_refusal(request)
        return None

    def _sigv4_refusal(self, request: SignedRequest) -> str | None:
        authorization = request.headers.get("authorization")
        if not authorization or not request.headers.get("x-amz-date"):
            return "MISSING_AUTHENTICATION_TOKEN"
        parsed = SIGV4_AUTHORIZATION.fullmatch(authorization.strip())
        if (
            parsed is None
            or parsed["key"] != self.credentials.access_key
            or (parsed["region"], parsed["service"]) != (self.region, "execute-api")
        ):
            return "INVALID_SIGNATURE"
        return (
            None
            if hmac.compare_digest(parsed["signature"], self._signature(request, parsed))
            else "INVALID_SIGNATURE"
        )

    def _signature(self, request: SignedRequest, parsed: re.Match[str]) -> str:
        signed = parsed["signed"].split(";")
        query = f"?{request.query}" if request.query else ""
        host = request.headers.get("host", "")
        aws_request = AWSRequest(
            method=request.method,
            url=f"http://{host}{request.path}{query}",
            data=request.body,
            headers={name: request.headers.get(name, "") for name in signed},
        )
        aws_request.context["timestamp"] = request.headers["x-amz-date"]
        signer = SigV4Auth(self.credentials, "execute-api", parsed["region"])
        canonical = signer.canonical_request(aws_request)
        return str(signer.signature(signer.string_to_sign(aws_request, canonical), aws_request))

    def error(self, response_type: str) -> GatewayErrorResponse:
        """The answer API Gateway gives for ``response_type``: the API's gateway response
        for it, else its DEFAULT_4XX/5XX, else API Gateway's default."""
        status = DEFAULT_STATUS.get(response_type, 500)
        fallback = "DEFAULT_4XX" if status < 500 else "DEFAULT_5XX"
        defined = self.responses.get(response_type) or self.responses.get(fallback)
        if defined is None:
            body = json.dumps({"message": DEFAULT_MESSAGE.get(response_type, "Error")}).encode()
            return GatewayErrorResponse(status, [("Content-Type", "application/json")], body)
        templates = defined.get("responseTemplates") or {}
        assert isinstance(templates, dict)
        parameters = defined.get("responseParameters") or {}
        assert isinstance(parameters, dict)
        headers = [("Content-Type", "application/json")] + [
            (name.removeprefix("gatewayresponse.header."), str(value).strip("'"))
            for name, value in parameters.items()
            if name.startswith("gatewayresponse.header.")
        ]
        status_code = defined.get("statusCode")
        return GatewayErrorResponse(
            int(str(status_code)) if status_code else status,
            headers,
            str(templates.get("application/json", "")).encode(),
        )


def load_access(apigateway: BaseClient, rest_api_id: str, stage: str, region: str) -> ApiAccess:
    """The keys admitted to ``stage`` (enabled, in a usage plan on it) and the API's gateway responses."""
    enabled = {
        key["id"]: key["value"]
        for key in apigateway.get_api_keys(includeValues=True)["items"]
        if key.get("enabled")
    }
    admitted: set[str] = set()
    for plan in apigateway.get_usage_plans()["items"]:
        stages = {(s.get("apiId"), s.get("stage")) for s in plan.get("apiStages", [])}
        if (rest_api_id, stage) not in stages:
            continue
        for key in apigateway.get_usage_plan_keys(usagePlanId=plan["id"])["items"]:
            if key["id"] in enabled:
                admitted.add(enabled[key["id"]])
    responses = {
        item["responseType"]: item
        for item in apigateway.get_gateway_responses(restApiId=rest_api_id)["items"]
    }
    return ApiAccess(frozenset(admitted), responses, region)


def method_protection(method: Mapping[str, object]) -> str:
    """A method as ``get_method`` returns it → ``api_key``, ``iam`` or ``none``."""
    if method.get("authorizationType") == "AWS_IAM":
        return "iam"
    return "api_key" if method.get("apiKeyRequired") else "none"
