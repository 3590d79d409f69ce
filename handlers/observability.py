"""Structured JSON logs: one object per line, always with the service name."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

from handlers.errors import ConfigurationError
from handlers.settings import LOG_LEVEL

_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

LOG_LEVELS: dict[str, int] = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "CRITICAL": logging.CRITICAL,
}
DEFAULT_LOG_LEVEL = "INFO"


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
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


def log_level(environ: Mapping[str, str] | None = None) -> int:
    """The level named by ``LOG_LEVEL`` (case-insensitive, ``INFO`` when unset or blank)."""
    raw = (os.environ if environ is None else environ).get(LOG_LEVEL, "")
    name = raw.strip().upper() or DEFAULT_LOG_LEVEL
    if name not in LOG_LEVELS:
        raise ConfigurationError(
            f"environment variable {LOG_LEVEL} must be one of {', '.join(LOG_LEVELS)}, got {raw!r}"
        )
    return LOG_LEVELS[name]


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
