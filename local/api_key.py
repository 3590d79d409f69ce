"""``--api-key KEY`` (or env ``DOFS_API_KEY``) for the commands that call the order API.

A stack whose ``dofs:apiAuth`` is ``api_key`` refuses a request without a listed key in
the ``x-api-key`` header; read a key with ``pulumi stack output --show-secrets api_keys``
(on the local stack: the outputs file, or ``make run``'s banner).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from typing import Any

API_KEY_ENV = "DOFS_API_KEY"
API_KEY_HEADER = "x-api-key"


def add_api_key_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--api-key",
        default=os.environ.get(API_KEY_ENV) or None,
        metavar="KEY",
        help=f"sent as {API_KEY_HEADER} to a stack that requires API keys (default: env {API_KEY_ENV})",
    )


def api_key_headers(api_key: str | None) -> dict[str, str]:
    return {API_KEY_HEADER: api_key} if api_key else {}


def first_api_key(outputs: Mapping[str, Any]) -> str | None:
    """A key from a stack's outputs (``api_keys``: client → key), None when it uses none."""
    keys = outputs.get("api_keys") or {}
    return str(next(iter(keys.values()))) if keys else None
