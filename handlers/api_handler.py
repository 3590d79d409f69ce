"""api_handler λ: the order API behind API Gateway (REST, Lambda proxy).

Bad input is refused here, before anything is stored: a body that is not a JSON object
of JSON content type within the size limit is a 4xx, and an order whose shape is wrong
(``order_shape.find_problems``) is a 422 listing every problem. Rules across fields are
left to the workflow, so an inconsistent order is accepted and ends REJECTED.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from handlers import aws, cors, faults, metrics, settings
from handlers.api_description import served_document
from handlers.api_routes import (
    IDEMPOTENCY_HEADER,
    IDEMPOTENCY_KEY_PATTERN,
    ORDER_ID_PATTERN,
    ROUTES,
    Operation,
    Route,
)
from handlers.business_metrics import BusinessMetric
from handlers.errors import (
    ConfigurationError,
    IdempotencyConflictError,
    OrderNotFoundError,
    OrderTooLargeError,
    StorageError,
    TransientStorageError,
)
from handlers.http import ApiError, ApiRequest, json_response, parse_event
from handlers.models import parse_json_decimal
from handlers.observability import get_logger
from handlers.order_intake import IntakeDeadlines, OrderIntakeService, WorkflowStarter
from handlers.order_shape import find_problems
from handlers.repository import OrderRepository

logger = get_logger("api_handler")

RETRY_AFTER = {"Retry-After": "1"}
MAX_PROBLEMS_LISTED = 50


def _match_route(request: ApiRequest) -> tuple[Route, dict[str, str]]:
    candidates = [(route, route.pattern.match(request.path)) for route in ROUTES]
    matching = [(route, match) for route, match in candidates if match]
    if not matching:
        raise ApiError(404, "not_found", f"no route for {request.path}")
    for route, match in matching:
        if route.method == request.method:
            return route, match.groupdict()
    allowed = sorted({route.method for route, _ in matching})
    raise ApiError(
        405,
        "method_not_allowed",
        f"{request.method} is not allowed on {request.path}; use {', '.join(allowed)}",
        headers={"Allow": ", ".join(allowed)},
    )


def _check_content_type(request: ApiRequest) -> None:
    content_type = (request.header("content-type") or "").split(";")[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise ApiError(
            415,
            "unsupported_media_type",
            f"Content-Type must be application/json, got {content_type or 'nothing'}",
        )


def _read_order_body(request: ApiRequest, max_bytes: int) -> tuple[dict[str, Any], str]:
    _check_content_type(request)
    if len(request.body) > max_bytes:
        raise ApiError(413, "body_too_large", f"request body must be at most {max_bytes} bytes")
    if not request.body.strip():
        raise ApiError(400, "empty_body", "request body is empty; send the order as a JSON object")
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_encoding", "request body is not valid UTF-8") from None
    try:
        order = parse_json_decimal(text)
    except RecursionError:
        raise ApiError(400, "invalid_json", "request body is nested too deeply") from None
    except ValueError as exc:
        raise ApiError(400, "invalid_json", f"request body is not valid JSON: {exc}") from None
    if not isinstance(order, dict):
        raise ApiError(400, "invalid_order", "request body must be a JSON object")
    return order, text


def _check_order_shape(order: dict[str, Any]) -> None:
    problems = find_problems(order)
    if not problems:
        return
    listed = problems[:MAX_PROBLEMS_LISTED]
    if len(problems) > len(listed):
        listed.append(f"... and {len(problems) - len(listed)} more")
    metrics.record(BusinessMetric.ORDERS_REJECTED)
    raise ApiError(422, "invalid_order", f"the order is invalid: {'; '.join(listed)}", problems=listed)


def _idempotency_key(request: ApiRequest) -> str | None:
    key = request.header(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not IDEMPOTENCY_KEY_PATTERN.fullmatch(key):
        raise ApiError(
            400,
            "invalid_idempotency_key",
            "Idempotency-Key must be 1 to 255 printable ASCII characters without spaces",
        )
    return key


def health(request: ApiRequest, params: dict[str, str]) -> dict[str, Any]:
    return json_response(
        200,
        {
            "status": "healthy",
            "service": "dofs",
            "environment": settings.require(settings.ENVIRONMENT),
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )


def create_order(request: ApiRequest, params: dict[str, str]) -> dict[str, Any]:
    max_bytes = settings.optional_int(settings.MAX_ORDER_BODY_BYTES, settings.DEFAULT_MAX_ORDER_BODY_BYTES)
    order, raw_body = _read_order_body(request, max_bytes or settings.DEFAULT_MAX_ORDER_BODY_BYTES)
    _check_order_shape(order)
    key = _idempotency_key(request)
    faults.inject_transient(faults.FaultPoint.API_HANDLER)
    accepted = _intake_service().accept(order, raw_body, key)
    if not accepted.replayed:
        metrics.record(BusinessMetric.ORDERS_ACCEPTED)
    logger.info(
        "order accepted",
        extra={"order_id": accepted.order_id, "idempotent_retry": key is not None},
    )
    return json_response(
        202,
        {
            "order_id": accepted.order_id,
            "status": accepted.status.value,
            "status_url": f"{request.base_url}/orders/{accepted.order_id}",
            "execution_arn": accepted.execution_arn,
        },
        {"Location": f"{request.base_url}/orders/{accepted.order_id}"},
    )


def get_order(request: ApiRequest, params: dict[str, str]) -> dict[str, Any]:
    order_id = params.get("order_id", "")
    if not ORDER_ID_PATTERN.fullmatch(order_id):
        raise ApiError(400, "invalid_order_id", "order_id must be 1 to 64 letters, digits or dashes")
    return json_response(200, _intake_service().status(order_id))


def api_description(request: ApiRequest, params: dict[str, str]) -> dict[str, Any]:
    return json_response(200, served_document(request.base_url))


OPERATIONS: dict[Operation, Callable[[ApiRequest, dict[str, str]], dict[str, Any]]] = {
    Operation.HEALTH: health,
    Operation.CREATE_ORDER: create_order,
    Operation.GET_ORDER: get_order,
    Operation.API_DESCRIPTION: api_description,
}


def _intake_service() -> OrderIntakeService:
    orders = OrderRepository(settings.require(settings.ORDERS_TABLE_NAME), aws.dynamodb_resource())
    starter = WorkflowStarter(settings.require(settings.STEP_FUNCTION_ARN), aws.stepfunctions_client())
    deadlines = IntakeDeadlines(
        order_due=settings.seconds(settings.ORDER_DUE_SECONDS),
        restart_after=settings.seconds(settings.RECONCILE_RECEIVED_AFTER_SECONDS),
    )
    return OrderIntakeService(orders, starter, deadlines)


def _preflight(request: ApiRequest) -> dict[str, Any]:
    """A CORS preflight: which methods and headers the path takes (the origin is added later)."""
    methods = {route.method for route in ROUTES if route.pattern.match(request.path)}
    if not methods:
        raise ApiError(404, "not_found", f"no route for {request.path}")
    return {
        "statusCode": 204,
        "headers": cors.preflight_headers(methods),
        "body": "",
        "isBase64Encoded": False,
    }


def _dispatch(request: ApiRequest) -> dict[str, Any]:
    if request.method == "OPTIONS" and cors.allowed_origins():
        return _preflight(request)
    route, params = _match_route(request)
    return OPERATIONS[route.operation](request, params)


def _error_response(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, ApiError):
        return exc.to_response()
    if isinstance(exc, OrderNotFoundError):
        return ApiError(404, "order_not_found", str(exc), order_id=exc.order_id).to_response()
    if isinstance(exc, IdempotencyConflictError):
        return ApiError(409, "idempotency_key_reused", str(exc)).to_response()
    if isinstance(exc, OrderTooLargeError):
        return ApiError(413, "body_too_large", str(exc)).to_response()
    if isinstance(exc, TransientStorageError):
        return ApiError(503, "storage_unavailable", "order storage is busy; retry", RETRY_AFTER).to_response()
    if isinstance(exc, ConfigurationError):
        logger.error("misconfigured function", exc_info=exc)
    elif isinstance(exc, StorageError):
        logger.error("storage request failed", exc_info=exc)
    else:
        logger.exception("unhandled error", exc_info=exc)
    return ApiError(500, "internal_error", "the request could not be processed").to_response()


def _order_id_of(exc: Exception) -> str | None:
    """The order a refused request was about, when the error names one."""
    if isinstance(exc, OrderNotFoundError | IdempotencyConflictError):
        return exc.order_id or None
    return None


def _with_cors(request: ApiRequest, response: dict[str, Any]) -> dict[str, Any]:
    try:
        origins = cors.allowed_origins()
    except ConfigurationError as exc:
        logger.error("misconfigured function", exc_info=exc)
        return response
    return cors.with_headers(response, cors.origin_headers(request.header("origin"), origins))


def _request_id(event: Any) -> str | None:
    """API Gateway's id of the request (``requestContext.requestId``), for the logs; never raises."""
    context = event.get("requestContext") if isinstance(event, dict) else None
    request_id = context.get("requestId") if isinstance(context, dict) else None
    return request_id if isinstance(request_id, str) else None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # Every line this invocation logs carries API Gateway's request id, as Powertools'
    # correlation_id (kept per thread: the local stack runs invocations side by side).
    logger.thread_safe_append_keys(correlation_id=_request_id(event))
    try:
        with metrics.published():
            return _handle(event)
    finally:
        logger.thread_safe_remove_keys(["correlation_id"])


def _handle(event: dict[str, Any]) -> dict[str, Any]:
    request: ApiRequest | None = None
    order_id: str | None = None
    try:
        request = parse_event(event)
        response = _dispatch(request)
    except Exception as exc:
        response = _error_response(exc)
        order_id = _order_id_of(exc)
    if request is not None:
        response = _with_cors(request, response)
    if response["statusCode"] >= 400:
        fields: dict[str, Any] = {
            "status": response["statusCode"],
            "path": request.path if request is not None else None,
        }
        if order_id is not None:
            fields["order_id"] = order_id
        logger.info("request refused", extra=fields)
    return response
