"""The order API's OpenAPI 3.1 description, generated from the pydantic models and the routes.

    python -m components.api_description    # make openapi: rewrite handlers/openapi.json

Paths and methods come from ``handlers.api_routes.ROUTES``, bodies from
``components.api_models``, and each route's statuses from ``OPERATION_RESPONSES``. One
document per auth mode: the security scheme applies to the authenticated routes only.
``handlers/openapi.json`` holds all three; packaging refuses to ship it stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from components import api_models
from handlers.api_description import AUTH_MODES, DOCUMENT_FILE
from handlers.api_routes import (
    IDEMPOTENCY_HEADER,
    IDEMPOTENCY_KEY_PATTERN,
    ORDER_ID_PATTERN,
    ROUTES,
    Operation,
    Route,
)

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"
SCHEMA_REF = "#/components/schemas/{model}"
JSON = "application/json"

# (model, mode): request bodies are validated input, response bodies serialised output.
SCHEMA_MODELS: tuple[tuple[type[BaseModel], JsonSchemaMode], ...] = (
    (api_models.Order, "validation"),
    (api_models.OrderAccepted, "serialization"),
    (api_models.OrderView, "serialization"),
    (api_models.Health, "serialization"),
    (api_models.ApiError, "serialization"),
    (api_models.InvalidOrder, "serialization"),
)

_RETRY_AFTER = {
    "description": "Seconds to wait before retrying.",
    "schema": {"type": "string", "pattern": r"^\d+$"},
}
_ALLOW = {"description": "The methods the path takes.", "schema": {"type": "string"}}
_LOCATION = {"description": "The order's status URL.", "schema": {"type": "string"}}

# Every error response, by status: (description, body schema, headers).
ERROR_RESPONSES: dict[int, tuple[str, str, dict[str, Any]]] = {
    400: (
        "Malformed request, nothing stored: JSON that does not parse (or is truncated, has NaN or "
        "Infinity, a key twice, nesting too deep), invalid UTF-8, an empty body or one that is not "
        "an object, a bad Idempotency-Key or order id.",
        "ApiError",
        {},
    ),
    403: ("No API key, a wrong one, or a missing or bad signature (API Gateway).", "ApiError", {}),
    404: ("No such order, or no such path.", "ApiError", {}),
    405: ("The path does not take this method.", "ApiError", {"Allow": _ALLOW}),
    409: ("This Idempotency-Key was already used with a different body.", "ApiError", {}),
    413: (
        "The body is over the stack's maxOrderBodyBytes, or too large to start a workflow.",
        "ApiError",
        {},
    ),
    415: ("Content-Type is not application/json.", "ApiError", {}),
    422: (
        "The JSON is not an order: every field at fault is in `problems`. Nothing stored.",
        "InvalidOrder",
        {},
    ),
    429: ("Throttled by the stage or the client's usage plan (API Gateway).", "ApiError", {}),
    503: ("Order storage is throttled; nothing was stored.", "ApiError", {"Retry-After": _RETRY_AFTER}),
}
# What each route can answer besides its success (403 is added to authenticated routes
# when the stack has an auth mode; 429 to every route: the stage throttles them all).
OPERATION_RESPONSES: dict[Operation, tuple[int, ...]] = {
    Operation.HEALTH: (),
    Operation.API_DESCRIPTION: (),
    # 404: the order an Idempotency-Key names vanished between the write and the read.
    Operation.CREATE_ORDER: (400, 404, 409, 413, 415, 422, 503),
    # 405: an empty order id leaves /orders, which takes POST only.
    Operation.GET_ORDER: (400, 404, 405),
}
SUCCESS: dict[Operation, tuple[int, str, str, dict[str, Any]]] = {
    Operation.HEALTH: (200, "The API is up.", "Health", {}),
    Operation.API_DESCRIPTION: (200, "This document.", "", {}),
    Operation.CREATE_ORDER: (
        202,
        "Accepted and recorded: the workflow runs it.",
        "OrderAccepted",
        {"Location": _LOCATION},
    ),
    Operation.GET_ORDER: (200, "The order, money as decimal strings.", "OrderView", {}),
}
SUMMARIES = {
    Operation.HEALTH: "Health check",
    Operation.API_DESCRIPTION: "This OpenAPI description",
    Operation.CREATE_ORDER: "Place an order",
    Operation.GET_ORDER: "An order's status",
}
SECURITY_SCHEMES: dict[str, dict[str, dict[str, Any]]] = {
    "none": {},
    "api_key": {"api_key": {"type": "apiKey", "in": "header", "name": "x-api-key"}},
    "iam": {
        "sigv4": {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "AWS Signature Version 4; the caller needs execute-api:Invoke on the stage.",
            "x-amazon-apigateway-authtype": "awsSigv4",
        }
    },
}
DESCRIPTION = (
    "Orders for the DOFS fulfillment pipeline. Every error is JSON, "
    '`{"error": "<code>", "message": "<what is wrong>"}`; a path not listed here is a 404, '
    "a method a path does not take a 405 with `Allow`. Money is a JSON number in requests "
    "and a decimal string in responses."
)


def _anchored(pattern: str) -> str:
    return f"^{pattern}$"


def component_schemas() -> dict[str, Any]:
    _, definitions = models_json_schema(
        SCHEMA_MODELS, ref_template=SCHEMA_REF, schema_generator=api_models.EdgeJsonSchema
    )
    schemas: dict[str, Any] = definitions["$defs"]
    return schemas


def _content(schema_name: str) -> dict[str, Any]:
    schema = {"$ref": SCHEMA_REF.format(model=schema_name)} if schema_name else {"type": "object"}
    return {JSON: {"schema": schema}}


def _response(description: str, schema_name: str, headers: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": _content(schema_name)}
    if headers:
        response["headers"] = headers
    return response


def route_statuses(route: Route, auth_mode: str) -> tuple[int, ...]:
    """Every status the route can answer in a stack of this auth mode, sorted."""
    statuses = {SUCCESS[route.operation][0], 429, *OPERATION_RESPONSES[route.operation]}
    if route.authenticated and auth_mode != "none":
        statuses.add(403)
    return tuple(sorted(statuses))


def _responses(route: Route, auth_mode: str) -> dict[str, Any]:
    success, description, schema_name, headers = SUCCESS[route.operation]
    responses = {}
    for status in route_statuses(route, auth_mode):
        if status == success:
            responses[str(status)] = _response(description, schema_name, headers)
        else:
            responses[str(status)] = {"$ref": f"#/components/responses/{status}"}
    return responses


def _parameters(route: Route) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = []
    if "{order_id}" in route.resource:
        parameters.append(
            {
                "name": "order_id",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "pattern": _anchored(ORDER_ID_PATTERN.pattern)},
            }
        )
    if route.operation is Operation.CREATE_ORDER:
        parameters.append(
            {
                "name": IDEMPOTENCY_HEADER,
                "in": "header",
                "required": False,
                "description": "Makes the POST safe to retry: the same key and body give the same order_id "
                "and store nothing twice; the same key with another body is a 409.",
                "schema": {"type": "string", "pattern": _anchored(IDEMPOTENCY_KEY_PATTERN.pattern)},
            }
        )
    return parameters


def _path_name(resource: str) -> str:
    """``/orders/{order_id}`` → ``orders_order_id``; ``/openapi.json`` → ``openapi_json``."""
    return "_".join(part.strip("{}").replace(".", "_") for part in resource.strip("/").split("/"))


def _operation(route: Route, auth_mode: str) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": f"{route.method.lower()}_{_path_name(route.resource)}",
        "summary": SUMMARIES[route.operation],
        "responses": _responses(route, auth_mode),
    }
    parameters = _parameters(route)
    if parameters:
        operation["parameters"] = parameters
    if route.operation is Operation.CREATE_ORDER:
        operation["requestBody"] = {"required": True, "content": _content("Order")}
    schemes = SECURITY_SCHEMES[auth_mode]
    operation["security"] = [{name: []} for name in schemes] if route.authenticated else []
    return operation


def build_document(auth_mode: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(route.resource, {})[route.method.lower()] = _operation(route, auth_mode)
    components: dict[str, Any] = {
        "schemas": component_schemas(),
        "responses": {
            str(status): _response(description, schema_name, headers)
            for status, (description, schema_name, headers) in ERROR_RESPONSES.items()
        },
    }
    if SECURITY_SCHEMES[auth_mode]:
        components["securitySchemes"] = SECURITY_SCHEMES[auth_mode]
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "DOFS order API", "version": API_VERSION, "description": DESCRIPTION},
        "paths": paths,
        "components": components,
    }


def render() -> str:
    """``handlers/openapi.json`` as it should be: every auth mode's document."""
    documents = {mode: build_document(mode) for mode in AUTH_MODES}
    return json.dumps(documents, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def is_stale(document_file: Path = DOCUMENT_FILE) -> bool:
    """True when ``document_file`` is missing or not what ``render`` makes now."""
    try:
        return document_file.read_text(encoding="utf-8") != render()
    except FileNotFoundError:
        return True


def main() -> int:
    DOCUMENT_FILE.write_text(render(), encoding="utf-8")
    print(f"wrote {DOCUMENT_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
