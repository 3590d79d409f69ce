"""Lazily built, shared boto3 clients.

Built on first use, not at import, so a test's moto mock is active before any client
exists; ``reset_clients`` forgets them when the test's emulator goes away.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3

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
