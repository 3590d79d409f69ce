"""CORS for the order API: preflights, and ``Access-Control-Allow-Origin`` for listed origins only.

The allowed origins come from ``CORS_ALLOW_ORIGINS`` (``dofs:corsAllowOrigins``), a JSON
list; empty or unset means no CORS at all. A request's ``Origin`` is echoed back only
when it is listed, so a browser on any other site cannot read a response.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

from handlers.errors import ConfigurationError
from handlers.settings import CORS_ALLOW_ORIGINS

ALLOW_HEADERS = ("Content-Type", "Idempotency-Key", "x-api-key")
# How long a browser may reuse a preflight's answer (seconds; Chrome caps it at 7,200).
PREFLIGHT_MAX_AGE_SECONDS = 600


def allowed_origins(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    raw = (os.environ if environ is None else environ).get(CORS_ALLOW_ORIGINS, "").strip()
    if not raw:
        return ()
    try:
        origins = json.loads(raw)
    except json.JSONDecodeError:
        origins = None
    if not isinstance(origins, list) or not all(isinstance(o, str) for o in origins):
        raise ConfigurationError(
            f"environment variable {CORS_ALLOW_ORIGINS} must be a JSON list of origins, got {raw!r}"
        )
    return tuple(origins)


def origin_headers(origin: str | None, origins: Iterable[str]) -> dict[str, str]:
    """The headers every response carries: the origin echoed when listed. ``Vary`` is sent
    whenever CORS is on, so a cache never hands one origin's answer to another."""
    listed = tuple(origins)
    if not listed:
        return {}
    if origin is not None and origin in listed:
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
    return {"Vary": "Origin"}


def preflight_headers(methods: Iterable[str]) -> dict[str, str]:
    """What a preflight answer allows, beyond the origin."""
    return {
        "Access-Control-Allow-Methods": ", ".join(sorted({*methods, "OPTIONS"})),
        "Access-Control-Allow-Headers": ", ".join(ALLOW_HEADERS),
        "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_SECONDS),
    }


def with_headers(response: dict[str, Any], headers: Mapping[str, str]) -> dict[str, Any]:
    if not headers:
        return response
    return {**response, "headers": {**(response.get("headers") or {}), **headers}}
