"""What the local servers (the gateway, the emulator) do when a client misbehaves.

A client that disconnects early (a ``curl -m 1`` readiness probe, a load generator that
gives up) or sends a request the server cannot take is the client's problem, not the
stack's: it becomes one line in the log file, at INFO so that the terminal, which shows
the local stack's warnings, keeps only the counters. ``socketserver`` would print a
traceback to stderr instead (``handle_error``).
"""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path
from typing import Any

# BrokenPipeError, ConnectionResetError and ConnectionAbortedError are ConnectionErrors;
# socket.timeout is TimeoutError.
CLIENT_DISCONNECTS: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError)


def describe(error: BaseException) -> str:
    """``Type: message (file:line)``, the innermost frame, in one line."""
    text = " ".join(str(error).split())
    line = f"{type(error).__name__}: {text}" if text else type(error).__name__
    frames = traceback.extract_tb(error.__traceback__)
    if frames:
        line += f" ({Path(frames[-1].filename).name}:{frames[-1].lineno})"
    return line


def log_client_gone(logger: logging.Logger, client: Any, error: BaseException, when: str) -> None:
    logger.info("client %s went away %s: %s", _address(client), when, describe(error))


def log_request_failure(logger: logging.Logger, client: Any) -> None:
    """For a server's ``handle_error``: the exception being handled, as one line."""
    error = sys.exc_info()[1]
    if error is None:
        logger.info("request from %s failed", _address(client))
    elif isinstance(error, CLIENT_DISCONNECTS):
        log_client_gone(logger, client, error, "during the request")
    else:
        logger.info("request from %s failed: %s", _address(client), describe(error))


def _address(client: Any) -> str:
    if isinstance(client, tuple) and len(client) >= 2:
        return f"{client[0]}:{client[1]}"
    return str(client)
