"""API Gateway REST (v1) proxy events in, proxy responses out.

The event is parsed with pydantic at the edge; a structurally invalid event is a 400,
never a crash of the handler.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from handlers.errors import DofsError
from handlers.models import dump_json

JSON_CONTENT_TYPE = "application/json"


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


class _ProxyRequestContext(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    stage: str | None = None
    domain_name: str | None = Field(default=None, alias="domainName")


class ProxyEvent(BaseModel):
    """The fields DOFS reads from an API Gateway REST (v1) Lambda proxy event.

    Other fields are ignored; ``headers``, ``body``, ``pathParameters`` and
    ``requestContext`` may be null, as they are in console test invocations.
    """

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    http_method: str = Field(alias="httpMethod", min_length=1)
    path: str | None = None
    resource: str | None = None
    headers: dict[str, str | None] | None = None
    body: str | None = None
    is_base64_encoded: bool | None = Field(default=None, alias="isBase64Encoded")
    path_parameters: dict[str, str] | None = Field(default=None, alias="pathParameters")
    request_context: _ProxyRequestContext | None = Field(default=None, alias="requestContext")


@dataclass(frozen=True)
class ApiRequest:
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


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors()[:5]:
        where = ".".join(str(part) for part in error["loc"]) or "event"
        problems.append(f"{where}: {error['msg']}")
    return "; ".join(problems)


def _decode_body(proxy: ProxyEvent) -> bytes:
    raw_body = proxy.body or ""
    if not proxy.is_base64_encoded:
        return raw_body.encode("utf-8", errors="surrogatepass")
    try:
        return base64.b64decode(raw_body, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "invalid_body", "request body is not valid base64") from None


def parse_event(event: Any) -> ApiRequest:
    """The request the handler serves; ``ApiError`` 400 when ``event`` is not a proxy event."""
    try:
        proxy = ProxyEvent.model_validate(event)
    except ValidationError as exc:
        raise ApiError(
            400, "invalid_event", f"the request is not an API Gateway proxy event: {_describe(exc)}"
        ) from None
    context = proxy.request_context or _ProxyRequestContext()
    return ApiRequest(
        method=proxy.http_method.upper(),
        path=proxy.path or "/",
        resource=proxy.resource or "",
        headers={k.lower(): v for k, v in (proxy.headers or {}).items() if v is not None},
        body=_decode_body(proxy),
        stage=context.stage or "",
        domain_name=context.domain_name or "",
        path_parameters=dict(proxy.path_parameters or {}),
    )


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": JSON_CONTENT_TYPE, **(headers or {})},
        "body": dump_json(body),
        "isBase64Encoded": False,
    }
