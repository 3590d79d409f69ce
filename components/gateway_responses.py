"""GatewayResponses: API Gateway's own errors in the API's error shape.

API Gateway answers some requests itself, before the handler runs: a missing or wrong API
key, an unsigned request, throttling, a body over 10 MB. Its default bodies are
``{"message": ...}``; these responses make every one ``{"error": code, "message": ...}``
as the handler's are (``handlers.http.ApiError``), so a client parses one shape.

CORS: a gateway response cannot look at the request's ``Origin``. With exactly one
allowed origin it carries that origin (a browser on any other site still cannot read
it); with several it carries none, and a browser sees such an error as a CORS failure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.config import StackSettings


@dataclass(frozen=True)
class GatewayError:
    """One gateway response type: its status (None: the status of the error itself) and body."""

    response_type: str
    status: int | None
    code: str
    message: str

    def body(self) -> str:
        return json.dumps({"error": self.code, "message": self.message})


GATEWAY_ERRORS: tuple[GatewayError, ...] = (
    GatewayError(
        "INVALID_API_KEY", 403, "invalid_api_key", "a valid API key is required in the x-api-key header"
    ),
    GatewayError(
        "MISSING_AUTHENTICATION_TOKEN",
        403,
        "missing_authentication",
        "the request must be signed (AWS Signature Version 4) or name an existing route",
    ),
    GatewayError("INVALID_SIGNATURE", 403, "invalid_signature", "the request's signature does not match"),
    GatewayError("EXPIRED_TOKEN", 403, "expired_token", "the request's credentials have expired"),
    GatewayError("ACCESS_DENIED", 403, "access_denied", "the caller may not invoke this API"),
    GatewayError("UNAUTHORIZED", 401, "unauthorized", "the caller is not authorized"),
    GatewayError("THROTTLED", 429, "throttled", "too many requests; retry with backoff"),
    GatewayError("QUOTA_EXCEEDED", 429, "quota_exceeded", "this API key's daily quota is used up"),
    GatewayError("REQUEST_TOO_LARGE", 413, "body_too_large", "the request is larger than 10 MB"),
    GatewayError("INTEGRATION_TIMEOUT", 504, "timeout", "the order service did not answer in time"),
    GatewayError("DEFAULT_4XX", None, "bad_request", "the request was refused"),
    GatewayError("DEFAULT_5XX", None, "internal_error", "the request could not be processed"),
)
# API Gateway's 10 MB payload limit: docs.aws.amazon.com/apigateway/latest/developerguide/limits.html


def gateway_response_headers(settings: StackSettings) -> dict[str, str]:
    """Response parameters (``gatewayresponse.header.*`` → a quoted static value)."""
    origins = settings.cors_allow_origins
    if len(origins) != 1:
        return {}
    return {"gatewayresponse.header.Access-Control-Allow-Origin": f"'{origins[0]}'"}


@dataclass
class GatewayResponsesArgs:
    settings: StackSettings
    rest_api_id: pulumi.Input[str]


class GatewayResponses(pulumi.ComponentResource):
    responses: list[aws.apigateway.Response]

    def __init__(
        self, name: str, args: GatewayResponsesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("dofs:index:GatewayResponses", name, None, opts)
        headers = gateway_response_headers(args.settings)
        self.responses = [
            aws.apigateway.Response(
                error.response_type.lower().replace("_", "-"),
                rest_api_id=args.rest_api_id,
                response_type=error.response_type,
                status_code=str(error.status) if error.status is not None else None,
                response_templates={"application/json": error.body()},
                response_parameters=headers or None,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for error in GATEWAY_ERRORS
        ]
        self.register_outputs({})
