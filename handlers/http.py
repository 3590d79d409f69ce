"""API Gateway REST (v1) proxy events in, proxy responses out."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

from handlers.models import dump_json

JSON_CONTENT_TYPE = "application/json"


class ApiError(Exception):
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


def parse_event(event: dict[str, Any]) -> ApiRequest:
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    raw_body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(raw_body, validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(400, "invalid_body", "request body is not valid base64") from None
    else:
        body = raw_body.encode("utf-8", errors="surrogatepass")
    context = event.get("requestContext") or {}
    return ApiRequest(
        method=str(event.get("httpMethod", "")).upper(),
        path=str(event.get("path") or "/"),
        resource=str(event.get("resource") or ""),
        headers=headers,
        body=body,
        stage=str(context.get("stage", "")),
        domain_name=str(context.get("domainName", "")),
        path_parameters=dict(event.get("pathParameters") or {}),
    )


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": JSON_CONTENT_TYPE, **(headers or {})},
        "body": dump_json(body),
        "isBase64Encoded": False,
    }
