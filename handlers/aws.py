"""Shared boto3 clients, built lazily, and AWS errors translated into DOFS's own exceptions.

Built on first use, not at import, so a test's moto mock is active before any client
exists; ``reset_clients`` forgets them when the test's emulator goes away.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from handlers.errors import DofsError, TransientStorageError

_clients: dict[str, Any] = {}
_lock = threading.Lock()


def _get(kind: str, factory: Any) -> Any:
    with _lock:
        if kind not in _clients:
            _clients[kind] = factory()
        return _clients[kind]


def dynamodb_resource() -> Any:
    return _get("dynamodb", lambda: boto3.resource("dynamodb"))


def stepfunctions_client() -> Any:
    return _get("stepfunctions", lambda: boto3.client("stepfunctions"))


def reset_clients() -> None:
    with _lock:
        _clients.clear()


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


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def is_conditional_check_failure(exc: ClientError) -> bool:
    return error_code(exc) == "ConditionalCheckFailedException"


def translate_storage_error(exc: ClientError | BotoCoreError) -> DofsError:
    """Map a DynamoDB error onto DOFS's own exceptions (callers ``raise ... from exc``)."""
    if isinstance(exc, BotoCoreError) or error_code(exc) in THROTTLING_ERROR_CODES:
        return TransientStorageError(str(exc))
    return DofsError(f"DynamoDB request failed: {exc}")
