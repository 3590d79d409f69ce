"""The console's HTTP server: static files from this package and the JSON the page reads.

GET  /                       the page (static/index.html, app.js, app.css: no CDN)
GET  /api/snapshot           counts per stage and status, the workflow graph, charts
GET  /api/orders?status=S    the newest orders (optionally of one status)
GET  /api/orders/{id}        one order with its timeline
GET  /api/failures           failed-orders records and the DLQ's messages (peeked)
POST /api/redrive            {"order_ids": [...] | null, "dlq": bool}: the redrive service
POST /api/orders             {"body": "<JSON text>", "idempotency_key": "..."}: to the API
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from local.errors import PortInUseError
from local.server_errors import log_request_failure
from local.stack import LocalStack, listening_socket
from local.web_console.source import ConsoleError, StackEndpoints, StackSource, to_json

logger = logging.getLogger("dofs.local.console")
STATIC = Path(__file__).resolve().parent / "static"
CONTENT_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
MAX_BODY_BYTES = 64 * 1024


class ConsoleHandler(BaseHTTPRequestHandler):
    server: ConsoleServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        source = self.server.source
        if url.path in ("/", "/index.html"):
            self._static("index.html")
        elif url.path.startswith("/static/"):
            self._static(url.path.removeprefix("/static/"))
        elif url.path == "/api/snapshot":
            self._answer(source.snapshot)
        elif url.path == "/api/orders":
            self._answer(lambda: source.order_list(query.get("status", [""])[0] or None))
        elif url.path.startswith("/api/orders/"):
            order_id = urllib.parse.unquote(url.path.removeprefix("/api/orders/"))
            self._answer(lambda: source.order(order_id))
        elif url.path == "/api/failures":
            self._answer(source.failures)
        else:
            self._error(ConsoleError(404, "not_found", f"no such page {url.path!r}"))

    def do_POST(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        if path == "/api/redrive":
            self._answer(lambda: self._redrive(self._json_body()))
        elif path == "/api/orders":
            self._answer(lambda: self._place(self._json_body()))
        else:
            self._error(ConsoleError(404, "not_found", f"no such action {path!r}"))

    # -- actions ------------------------------------------------------------------------

    def _redrive(self, body: dict[str, Any]) -> dict[str, Any]:
        order_ids = body.get("order_ids")
        if order_ids is not None and not (
            isinstance(order_ids, list) and all(isinstance(i, str) and i for i in order_ids)
        ):
            raise ConsoleError(422, "invalid_redrive", "order_ids: a list of order ids, or null for all")
        return self.server.source.redrive(order_ids, dlq=bool(body.get("dlq", False)))

    def _place(self, body: dict[str, Any]) -> dict[str, Any]:
        order, key = body.get("body"), body.get("idempotency_key")
        if not isinstance(order, str):
            raise ConsoleError(422, "invalid_request", "body: the order's JSON text, as a string")
        if key is not None and not isinstance(key, str):
            raise ConsoleError(422, "invalid_request", "idempotency_key: a string, or absent")
        return self.server.source.place_order(order, key or None)

    def _json_body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise ConsoleError(413, "too_large", f"request body over {MAX_BODY_BYTES} bytes")
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError as exc:
            raise ConsoleError(400, "malformed_json", f"request body is not JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise ConsoleError(400, "malformed_json", "request body must be a JSON object")
        return body

    # -- answers ------------------------------------------------------------------------

    def _answer(self, produce: Any) -> None:
        try:
            value = produce()
        except ConsoleError as exc:
            self._error(exc)
        except Exception as exc:
            logger.exception("console request %s failed", self.path)
            self._error(ConsoleError(500, "console_error", f"{type(exc).__name__}: {exc}"))
        else:
            self._send(200, "application/json", to_json(value))

    def _error(self, exc: ConsoleError) -> None:
        self._send(exc.status, "application/json", to_json({"error": exc.error, "message": str(exc)}))

    def _static(self, name: str) -> None:
        path = (STATIC / name).resolve()
        if path.parent != STATIC or not path.is_file() or path.suffix not in CONTENT_TYPES:
            self._error(ConsoleError(404, "not_found", f"no such file {name!r}"))
            return
        self._send(200, f"{CONTENT_TYPES[path.suffix]}; charset=utf-8", path.read_bytes())

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status, HTTPStatus(status).phrase)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("console %s " + format, self.client_address[0], *args)


class ConsoleServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A page closed mid-refresh is one line in the log file, not a traceback."""
        log_request_failure(logger, client_address)

    def __init__(self, listener: socket.socket, source: StackSource) -> None:
        super().__init__(listener.getsockname(), ConsoleHandler, bind_and_activate=False)
        self.socket.close()
        self.socket = listener
        self.source = source
        self._thread = threading.Thread(target=self.serve_forever, name="web-console", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> ConsoleServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)


DEFAULT_CONSOLE_PORT = 8081


def console_listener(port: int | None) -> socket.socket:
    """The console's socket: ``port`` if given (a busy one is an error naming
    ``--console-port``), else 8081, or any free port when 8081 is taken (the console is
    an extra, and its URL is printed in the banner)."""
    if port is not None:
        return listening_socket(port, "--console-port")
    try:
        return listening_socket(DEFAULT_CONSOLE_PORT, "--console-port")
    except PortInUseError:
        return listening_socket(0, "--console-port")


def start_console(listener: socket.socket, stack: LocalStack) -> ConsoleServer:
    endpoints = StackEndpoints(stack.outputs, stack.aws_endpoint, stack.region)
    return ConsoleServer(listener, StackSource(endpoints)).start()
