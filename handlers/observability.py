"""Structured JSON logs through Powertools' Logger: one object per line, with the service name.

On Lambda the function's log format is JSON, and Lambda drops every line whose
``level`` is below the function's application log level; a missing or unknown ``level``
counts as INFO. Powertools writes Python's level names, so ``LambdaLevelFormatter``
writes Lambda's (``WARN``, not ``WARNING``; ``FATAL``, not ``CRITICAL``). The level the
logger writes at is the one Lambda filters at: ``AWS_LAMBDA_LOG_LEVEL``, which Lambda
sets from that application level (and changes with it, without a deploy), before
``LOG_LEVEL``, which the local stack and the tests set. DOFS resolves it itself rather
than leaving it to Powertools, which maps Lambda's ``TRACE`` to ``NOTSET`` (a logger at
NOTSET writes at its parent's level, WARNING) and ignores a lower-case level.
See docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.types import LogRecord

from handlers.log_levels import LAMBDA_LEVEL_NAMES, LOG_LEVELS, log_level

__all__ = ["LOG_LEVELS", "get_logger", "log_level"]

_LAMBDA_NAME_OF_PYTHON_NAME = {
    logging.getLevelName(level): name for level, name in LAMBDA_LEVEL_NAMES.items()
}
LOG_KEYS_ORDER = ["timestamp", "level", "service", "message"]


class LambdaLevelFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON lines, with ``level`` spelled as Lambda's log filter reads it."""

    def serialize(self, log: LogRecord) -> str:
        level = log.get("level")
        if isinstance(level, str) and isinstance(log, dict):
            log["level"] = _LAMBDA_NAME_OF_PYTHON_NAME.get(level, level)
        return super().serialize(log)


class _StdoutHandler(logging.StreamHandler[TextIO]):
    """Writes to ``sys.stdout`` as it is when the record is emitted, not when the logger was made
    (the local stack redirects stdout into its log file after the handlers were imported)."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


_loggers: dict[str, Logger] = {}


def get_logger(service: str) -> Logger:
    """The Powertools logger of one handler (the standard logger ``dofs.<service>``), made
    once per process; extra fields (``order_id``, ...) land in the JSON."""
    if service in _loggers:
        return _loggers[service]
    level = log_level()  # before anything is made, so a bad LOG_LEVEL leaves no half-made logger
    formatter = LambdaLevelFormatter(
        utc=True, use_rfc3339=True, log_record_order=LOG_KEYS_ORDER, serialize_stacktrace=False
    )
    logger = Logger(
        service=f"dofs.{service}", level=level, logger_handler=_StdoutHandler(), logger_formatter=formatter
    )
    logger.append_keys(service=service)  # the standard logger's name is dofs.<service>; the field is not
    logger.remove_keys(["location"])  # function:line on every line is bytes ingested, and read by no one
    standard = logging.getLogger(f"dofs.{service}")
    standard.setLevel(level)  # Powertools would put Lambda's TRACE at NOTSET
    standard.propagate = False  # one line per record: not again through the root logger's handlers
    _loggers[service] = logger
    return logger
