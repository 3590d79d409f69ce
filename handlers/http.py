"""API Gateway REST (v1) proxy events in, proxy responses out.

The event is parsed by hand at the edge; a structurally invalid event is a 400 naming
what is wrong with it, never a crash of the handler.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

from handlers.errors import DofsError
from handlers.models import dump_json
from handlers.parsing import Check, is_object, is_text, missing_fields, nullable, object_of, wrong_types

JSON_CONTENT_TYPE = "application/json"
MAX_EVENT_PROBLEMS_SHOWN = 5


class ApiError(DofsError):
    """An error answered to the client as ``{"error": code, "message": ...}``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.details = details

    def to_response(self) -> dict[str, Any]:
        body = {"error": self.code, "message": self.message, **self.details}
        return json_response(self.status, body, self.headers)


TEXT_OR_NULL = (nullable(is_text), "a string or null")
# The fields DOFS reads from an API Gateway REST (v1) Lambda proxy event; others are
# ignored. All but the method may be null, as they are in console test invocations.
PROXY_EVENT_FIELDS: dict[str, tuple[Check, str]] = {
    "httpMethod": (lambda value: isinstance(value, str) and bool(value), "a non-empty string"),
    "path": TEXT_OR_NULL,
    "resource": TEXT_OR_NULL,
    "headers": (nullable(object_of(nullable(is_text))), "an object of strings or null"),
    "body": TEXT_OR_NULL,
    "isBase64Encoded": (nullable(lambda value: isinstance(value, bool)), "a boolean or null"),
    "pathParameters": (nullable(object_of(is_text)), "an object of strings or null"),
    "requestContext": (nullable(is_object), "an object or null"),
}
REQUEST_CONTEXT_FIELDS = {"stage": TEXT_OR_NULL, "domainName": TEXT_OR_NULL}


@dataclass(frozen=True)
class ApiRequest:
    """The request as the handler serves it: headers by lower-case name, the body decoded."""

    method: str
    path: str
    resource: str
    headers: dict[str, str]
    body: bytes
    stage: str = ""
    domain_name: str = ""
    path_parameters: dict[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def base_url(self) -> str:
        """The URL the client used, up to the stage, when API Gateway told us."""
        if not self.domain_name:
            return ""
        proto = self.header("x-forwarded-proto") or "https"
        stage = f"/{self.stage}" if self.stage and self.stage != "$default" else ""
        return f"{proto}://{self.domain_name}{stage}"


def _event_problems(event: Any) -> list[str]:
    if not isinstance(event, dict):
        return ["event: must be an object"]
    problems = missing_fields(event, ("httpMethod",)) + wrong_types(event, PROXY_EVENT_FIELDS)
    context = event.get("requestContext")
    if isinstance(context, dict):
        problems += wrong_types(context, REQUEST_CONTEXT_FIELDS, "requestContext")
    return problems


def _decode_body(raw_body: str, is_base64_encoded: bool) -> bytes:
    if not is_base64_encoded:
        return raw_body.encode("utf-8", errors="surrogatepass")
    try:
        return base64.b64decode(raw_body, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "invalid_body", "request body is not valid base64") from None


def parse_event(event: Any) -> ApiRequest:
    """The request the handler serves; ``ApiError`` 400 when ``event`` is not a proxy event."""
    problems = _event_problems(event)
    if problems:
        shown = "; ".join(problems[:MAX_EVENT_PROBLEMS_SHOWN])
        raise ApiError(400, "invalid_event", f"the request is not an API Gateway proxy event: {shown}")
    context = event.get("requestContext") or {}
    return ApiRequest(
        method=event["httpMethod"].upper(),
        path=event.get("path") or "/",
        resource=event.get("resource") or "",
        headers={k.lower(): v for k, v in (event.get("headers") or {}).items() if v is not None},
        body=_decode_body(event.get("body") or "", bool(event.get("isBase64Encoded"))),
        stage=context.get("stage") or "",
        domain_name=context.get("domainName") or "",
        path_parameters=dict(event.get("pathParameters") or {}),
    )


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": JSON_CONTENT_TYPE, **(headers or {})},
        "body": dump_json(body),
        "isBase64Encoded": False,
    }
