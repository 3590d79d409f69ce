"""Environment variables the handlers read, with errors that name the variable."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from handlers.errors import ConfigurationError

ORDERS_TABLE_NAME = "ORDERS_TABLE_NAME"
FAILED_ORDERS_TABLE_NAME = "FAILED_ORDERS_TABLE_NAME"
STEP_FUNCTION_ARN = "STEP_FUNCTION_ARN"
ENVIRONMENT = "ENVIRONMENT"
FULFILLMENT_SUCCESS_RATE = "FULFILLMENT_SUCCESS_RATE"
FULFILLMENT_RANDOM_SEED = "FULFILLMENT_RANDOM_SEED"
MAX_ORDER_BODY_BYTES = "MAX_ORDER_BODY_BYTES"
LOG_LEVEL = "LOG_LEVEL"
# Set by Lambda itself from the function's application log level (JSON log format only).
AWS_LAMBDA_LOG_LEVEL = "AWS_LAMBDA_LOG_LEVEL"
ORDER_QUEUE_URL = "ORDER_QUEUE_URL"
ORDER_DUE_SECONDS = "ORDER_DUE_SECONDS"
RECONCILE_RECEIVED_AFTER_SECONDS = "RECONCILE_RECEIVED_AFTER_SECONDS"
RECONCILE_PENDING_AFTER_SECONDS = "RECONCILE_PENDING_AFTER_SECONDS"
RECONCILE_MAX_ATTEMPTS = "RECONCILE_MAX_ATTEMPTS"
# How the stack protects its authenticated routes (dofs:apiAuth): none, api_key or iam.
API_AUTH = "API_AUTH"
# The origins CORS allows (dofs:corsAllowOrigins), as a JSON list; empty or unset: no CORS.
CORS_ALLOW_ORIGINS = "CORS_ALLOW_ORIGINS"

DEFAULT_MAX_ORDER_BODY_BYTES = 32 * 1024


def require(name: str, environ: Mapping[str, str] | None = None) -> str:
    value = (os.environ if environ is None else environ).get(name, "").strip()
    if not value:
        raise ConfigurationError(f"environment variable {name} is required")
    return value


def success_rate(environ: Mapping[str, str] | None = None) -> Decimal:
    raw = (os.environ if environ is None else environ).get(FULFILLMENT_SUCCESS_RATE, "0.7")
    try:
        rate = Decimal(raw)
    except InvalidOperation:
        rate = Decimal(-1)
    if not rate.is_finite() or not Decimal(0) <= rate <= Decimal(1):
        raise ConfigurationError(
            f"environment variable {FULFILLMENT_SUCCESS_RATE} must be a number between 0 and 1, got {raw!r}"
        )
    return rate


def optional_int(name: str, default: int | None, environ: Mapping[str, str] | None = None) -> int | None:
    raw = (os.environ if environ is None else environ).get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigurationError(f"environment variable {name} must be an integer, got {raw!r}") from None


def positive_int(name: str, environ: Mapping[str, str] | None = None) -> int:
    value = optional_int(name, None, environ)
    if value is None or value < 1:
        raise ConfigurationError(f"environment variable {name} is required and must be a positive integer")
    return value


def seconds(name: str, environ: Mapping[str, str] | None = None) -> timedelta:
    """A required, positive number of seconds (a deadline) as a ``timedelta``."""
    return timedelta(seconds=positive_int(name, environ))
