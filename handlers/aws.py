"""Shared boto3 clients, built lazily, and AWS errors translated into DOFS's own exceptions.

Built on first use, not at import, so a test's moto mock is active before any client
exists; ``reset_clients`` forgets them when the test's emulator goes away. When a fault
plan is set (``handlers.faults``), the clients' calls fail as it says.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from handlers import faults
from handlers.errors import ConfigurationError, DofsError, StorageError, TransientStorageError

_clients: dict[str, Any] = {}
_lock = threading.Lock()


def _get(kind: str, factory: Any) -> Any:
    with _lock:
        if kind not in _clients:
            _clients[kind] = factory()
        return _clients[kind]


def _dynamodb_resource() -> Any:
    resource = boto3.resource("dynamodb")
    instrument(resource.meta.client)
    return resource


def dynamodb_resource() -> Any:
    return _get("dynamodb", _dynamodb_resource)


def stepfunctions_client() -> Any:
    return _get("stepfunctions", lambda: instrument(boto3.client("stepfunctions")))


def sqs_client() -> Any:
    return _get("sqs", lambda: boto3.client("sqs"))


def reset_clients() -> None:
    with _lock:
        _clients.clear()


# botocore event → the fault it may raise: (point, error code, HTTP status).
_CALL_FAULTS = {
    "before-call.dynamodb": (
        faults.FaultPoint.DYNAMODB_THROTTLE,
        "ProvisionedThroughputExceededException",
        400,
    ),
    "before-call.sfn.StartExecution": (faults.FaultPoint.WORKFLOW_START, "ServiceUnavailable", 503),
}


def _call_fault(point: faults.FaultPoint, code: str, status: int) -> Any:
    def before_call(model: Any, **kwargs: Any) -> None:
        if faults.fires(point):
            raise ClientError(
                {
                    "Error": {"Code": code, "Message": f"injected fault at {point.value}"},
                    "ResponseMetadata": {"HTTPStatusCode": status},
                },
                model.name,
            )

    return before_call


def instrument(client: Any) -> Any:
    """Let ``client``'s calls fail as the fault plan says; a no-op without a plan.

    Raised before the request is sent, so botocore's own retries do not hide the fault.
    """
    if faults.active_injector() is None:
        return client
    events = client.meta.events
    for event, fault in _CALL_FAULTS.items():
        events.register(event, _call_fault(*fault), unique_id=f"dofs-fault-{event}")
    return client


THROTTLING_ERROR_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "Throttling",
        "InternalServerError",
        "ServiceUnavailable",
    }
)


# The table is missing or the function may not use it: retrying cannot help, a deploy can.
CONFIGURATION_ERROR_CODES = frozenset(
    {
        "ResourceNotFoundException",
        "AccessDeniedException",
        "UnrecognizedClientException",
    }
)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def http_status(exc: ClientError) -> int:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return status if isinstance(status, int) else 0


def is_conditional_check_failure(exc: ClientError) -> bool:
    return error_code(exc) == "ConditionalCheckFailedException"


def translate_storage_error(exc: ClientError | BotoCoreError) -> DofsError:
    """Map a DynamoDB error onto DOFS's own exceptions by its code (callers ``raise ... from exc``).

    Throttling, 5xx answers and connection failures are transient; a missing table or
    refused credentials is a configuration error; anything else is a ``StorageError``.
    """
    if isinstance(exc, BotoCoreError):
        return TransientStorageError(str(exc))
    code = error_code(exc)
    if code in THROTTLING_ERROR_CODES or http_status(exc) >= 500:
        return TransientStorageError(str(exc))
    if code in CONFIGURATION_ERROR_CODES:
        return ConfigurationError(
            f"DynamoDB refused the request with {code}: the function's table name or "
            f"permissions are wrong ({exc})"
        )
    return StorageError(f"DynamoDB request failed with {code or 'no error code'}: {exc}")
