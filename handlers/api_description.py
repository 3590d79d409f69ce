"""The OpenAPI description that ``GET /openapi.json`` serves.

``handlers/openapi.json`` is generated from pydantic models by ``components.api_description``
(``make openapi``) and ships in the handler archive: it holds one document per auth mode
(``dofs:apiAuth``), and the handler serves the stack's, read once, on first use. Reading
JSON keeps pydantic out of the handler's cold start.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any, Literal, get_args

from handlers import settings
from handlers.errors import ConfigurationError

DOCUMENT_FILE = Path(__file__).with_name("openapi.json")
# How a stack protects its authenticated routes (dofs:apiAuth); the stack's config reads
# the same modes, so a new one cannot pass config and then fail in the handler.
ApiAuth = Literal["none", "api_key", "iam"]
AUTH_MODES: tuple[str, ...] = get_args(ApiAuth)
DEFAULT_AUTH_MODE = "none"


def auth_mode() -> str:
    """The stack's auth mode, from ``API_AUTH``; unset means none (the dev default)."""
    mode = os.environ.get(settings.API_AUTH, "").strip() or DEFAULT_AUTH_MODE
    if mode not in AUTH_MODES:
        raise ConfigurationError(
            f"environment variable {settings.API_AUTH} must be one of {', '.join(AUTH_MODES)}, got {mode!r}"
        )
    return mode


@functools.cache
def _documents() -> dict[str, Any]:
    documents: dict[str, Any] = json.loads(DOCUMENT_FILE.read_text(encoding="utf-8"))
    return documents


def served_document(base_url: str) -> dict[str, Any]:
    """The document of the stack's auth mode, naming the URL the client used as its server."""
    document = dict(_documents()[auth_mode()])
    if base_url:
        document["servers"] = [{"url": base_url}]
    return document
