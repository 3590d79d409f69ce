"""Log levels by name: the ones ``LOG_LEVEL`` takes and the ones Lambda filters by.

Apart from ``handlers.observability`` so that the Pulumi program, which sets each
function's log levels from these names, does not import Powertools (it is not in
requirements.txt). On Lambda ``AWS_LAMBDA_LOG_LEVEL`` names the function's application
log level and wins over ``LOG_LEVEL``, which the local stack and the tests set.
See docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from handlers.errors import ConfigurationError
from handlers.settings import AWS_LAMBDA_LOG_LEVEL, LOG_LEVEL

LOG_LEVELS: dict[str, int] = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "CRITICAL": logging.CRITICAL,
}
DEFAULT_LOG_LEVEL = "INFO"
# Lambda's names for the same levels; as in Lambda's Python runtime, TRACE is DEBUG.
LAMBDA_LEVEL_NAMES: dict[int, str] = {
    logging.DEBUG: "DEBUG",
    logging.INFO: "INFO",
    logging.WARNING: "WARN",
    logging.ERROR: "ERROR",
    logging.CRITICAL: "FATAL",
}
LAMBDA_LOG_LEVELS: dict[str, int] = {"TRACE": logging.DEBUG} | {
    name: level for level, name in LAMBDA_LEVEL_NAMES.items()
}


def _named_level(variable: str, raw: str, levels: Mapping[str, int]) -> int:
    name = raw.strip().upper() or DEFAULT_LOG_LEVEL
    if name not in levels:
        raise ConfigurationError(
            f"environment variable {variable} must be one of {', '.join(levels)}, got {raw!r}"
        )
    return levels[name]


def log_level(environ: Mapping[str, str] | None = None) -> int:
    """The level named by ``AWS_LAMBDA_LOG_LEVEL`` when set, else by ``LOG_LEVEL``
    (case-insensitive; ``INFO`` when neither is set or both are blank)."""
    environ = os.environ if environ is None else environ
    lambda_level = environ.get(AWS_LAMBDA_LOG_LEVEL, "")
    if lambda_level.strip():
        return _named_level(AWS_LAMBDA_LOG_LEVEL, lambda_level, LAMBDA_LOG_LEVELS)
    return _named_level(LOG_LEVEL, environ.get(LOG_LEVEL, ""), LOG_LEVELS)
