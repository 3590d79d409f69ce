"""Structured JSON logs: one object per line, always with the service name.

On Lambda the function's log format is JSON, and Lambda drops every line whose
``level`` is below the function's application log level; a missing or unknown ``level``
counts as INFO. So ``level`` uses Lambda's names (``WARN``, not ``WARNING``), and the
level the logger writes at is the one Lambda filters at: ``AWS_LAMBDA_LOG_LEVEL``, which
Lambda sets from that application level (and changes with it, without a deploy), before
``LOG_LEVEL``, which the local stack and the tests set.
See docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

from handlers.errors import ConfigurationError
from handlers.settings import AWS_LAMBDA_LOG_LEVEL, LOG_LEVEL

_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

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


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": LAMBDA_LEVEL_NAMES.get(record.levelno, record.levelname),
            "service": self.service,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _RESERVED})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class _StdoutHandler(logging.StreamHandler[TextIO]):
    """Writes to ``sys.stdout`` as it is when the record is emitted, not when the logger was made."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


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


def get_logger(service: str) -> logging.Logger:
    """A logger for one handler; extra fields (``order_id``, ...) land in the JSON."""
    logger = logging.getLogger(f"dofs.{service}")
    if not logger.handlers:
        level = log_level()  # before any change, so a bad LOG_LEVEL leaves no half-made logger
        handler = _StdoutHandler()
        handler.setFormatter(JsonFormatter(service))
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False
    return logger
