"""A local HTTP gateway that serves the REST API the emulator holds, like API Gateway.

Routes are read from the emulator's API (resources, methods, Lambda proxy
integrations), which the Pulumi program created there. Each request becomes a REST (v1)
proxy event, the integration's function is invoked through the emulator's Lambda API,
and its proxy response becomes the HTTP response. A function error, or a response that
is not a valid proxy response, gives API Gateway's 502.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from botocore.client import BaseClient
from botocore.exceptions import ReadTimeoutError

from local.gateway_access import ApiAccess, GatewayErrorResponse, SignedRequest, method_protection
from local.lambda_runtime import invoke_function
from local.server_errors import CLIENT_DISCONNECTS, log_client_gone, log_request_failure

logger = logging.getLogger("dofs.local.gateway")

MAX_REQUEST_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
INTEGRATION_URI = re.compile(
    r"arn:aws:apigateway:[^:]+:lambda:path/2015-03-31/functions/(?P<arn>.+)/invocations$"
)
INTEGRATION_TIMEOUT_SECONDS = 29  # API Gateway's limit for a Lambda integration


@dataclass(frozen=True)
class ApiRoute:
    """One API resource and the function behind each of its methods."""

    resource_path: str
    functions: dict[str, str]  # HTTP method (or ANY) → function ARN
    pattern: re.Pattern[str]
    rank: tuple[int, int, int]  # lower wins: greedy last, then fewer parameters, then longer
    protections: dict[str, str] = field(default_factory=dict)  # method → api_key, iam or none

    @classmethod
    def build(
        cls, resource_path: str, functions: dict[str, str], protections: dict[str, str] | None = None
    ) -> ApiRoute:
        segments = [s for s in resource_path.strip("/").split("/") if s]
        parts, params, greedy = [], 0, 0
        for segment in segments:
            if segment.startswith("{") and segment.endswith("+}"):
                parts.append(f"(?P<{segment[1:-2]}>.+)")
                greedy += 1
            elif segment.startswith("{"):
                parts.append(f"(?P<{segment[1:-1]}>[^/]+)")
                params += 1
            else:
                parts.append(re.escape(segment))
        pattern = re.compile("^/" + "/".join(parts) + "/?$")
        rank = (greedy, params, -len(segments))
        return cls(resource_path, functions, pattern, rank, protections or {})

    def function_for(self, method: str) -> str | None:
        return self.functions.get(method) or self.functions.get("ANY")

    def protection_for(self, method: str) -> str:
        served_by = method if method in self.functions else "ANY"
        return self.protections.get(served_by, "none")


def load_routes(apigateway: BaseClient, rest_api_id: str) -> list[ApiRoute]:
    """The API's resources as the emulator holds them, most specific first."""
    routes = []
    paginator = apigateway.get_paginator("get_resources")
    for page in paginator.paginate(restApiId=rest_api_id):
        for resource in page["items"]:
            functions, protections = {}, {}
            for method in resource.get("resourceMethods", {}):
                key = {"restApiId": rest_api_id, "resourceId": resource["id"], "httpMethod": method}
                integration = apigateway.get_integration(**key)
                match = INTEGRATION_URI.match(integration.get("uri", ""))
                if integration.get("type") == "AWS_PROXY" and match:
                    functions[method] = match["arn"]
                    protections[method] = method_protection(apigateway.get_method(**key))
            if functions:
                routes.append(ApiRoute.build(resource["path"], functions, protections))
    return sorted(routes, key=lambda r: r.rank)


def match_route(routes: list[ApiRoute], path: str) -> tuple[ApiRoute, dict[str, str]] | None:
    for route in routes:
        found = route.pattern.match(path)
        if found:
            return route, {k: unquote(v) for k, v in found.groupdict().items()}
    return None


@dataclass(frozen=True)
class GatewayRequest:
    method: str
    path: str
    query: str
    headers: dict[str, list[str]]
    body: bytes
    source_ip: str


def proxy_event(
    request: GatewayRequest, route: ApiRoute, path_parameters: dict[str, str], stage: str
) -> dict[str, Any]:
    """The REST (v1) Lambda proxy event API Gateway would send."""
    query = parse_qs(request.query, keep_blank_values=True)
    try:
        body: str | None = request.body.decode("utf-8") if request.body else None
        encoded = False
    except UnicodeDecodeError:
        body, encoded = base64.b64encode(request.body).decode("ascii"), True
    return {
        "resource": route.resource_path,
        "path": request.path,
        "httpMethod": request.method,
        "headers": {name: values[-1] for name, values in request.headers.items()},
        "multiValueHeaders": request.headers,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": route.resource_path,
            "httpMethod": request.method,
            "path": f"/{stage}{request.path}",
            "stage": stage,
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {"sourceIp": request.source_ip},
            "protocol": "HTTP/1.1",
        },
        "body": body,
        "isBase64Encoded": encoded,
    }


@dataclass(frozen=True)
class GatewayResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def json_response(status: int, document: dict[str, Any]) -> GatewayResponse:
    return GatewayResponse(status, [("Content-Type", "application/json")], json.dumps(document).encode())


def _as_response(error: GatewayErrorResponse) -> GatewayResponse:
    return GatewayResponse(error.status, error.headers, error.body)


def http_response(payload: Any) -> GatewayResponse:
    """The HTTP response for a proxy integration's result; 502 when it is not one."""
    if not isinstance(payload, dict) or not isinstance(payload.get("statusCode"), int):
        raise ValueError(f"malformed Lambda proxy response: {str(payload)[:200]}")
    # As API Gateway merges them: a name in multiValueHeaders replaces the same in headers.
    single = {str(k): [str(v)] for k, v in (payload.get("headers") or {}).items()}
    multi = {
        str(k): [str(v) for v in values] for k, values in (payload.get("multiValueHeaders") or {}).items()
    }
    lowered = {name.lower() for name in multi}
    merged = {**{k: v for k, v in single.items() if k.lower() not in lowered}, **multi}
    headers = [(name, value) for name, values in merged.items() for value in values]
    body = payload.get("body") or ""
    if not isinstance(body, str):
        raise ValueError("malformed Lambda proxy response: body is not a string")
    raw = base64.b64decode(body) if payload.get("isBase64Encoded") else body.encode("utf-8")
    return GatewayResponse(payload["statusCode"], headers, raw)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 drops connections from a handful of concurrent clients

    def handle_error(self, request: Any, client_address: Any) -> None:
        log_request_failure(logger, client_address)


class LocalGateway:
    """Serves the API on a listening socket until ``stop()``."""

    def __init__(self, listener: socket.socket, *, lambda_client: BaseClient) -> None:
        self.lambda_client = lambda_client
        self.routes: list[ApiRoute] = []
        self.access = ApiAccess()
        self.stage = ""
        self.server = _Server(listener.getsockname(), _handler_class(self), bind_and_activate=False)
        self.server.socket.close()  # the one made unbound by the constructor
        self.server.socket = listener
        self._thread = threading.Thread(target=self.server.serve_forever, name="gateway", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def serve(self, routes: list[ApiRoute], stage: str, access: ApiAccess | None = None) -> None:
        self.routes, self.stage = routes, stage
        self.access = access or ApiAccess()
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():  # shutdown() waits for a serve_forever that never started
            self.server.shutdown()
            self._thread.join(timeout=5)
        self.server.server_close()

    def handle(self, request: GatewayRequest) -> GatewayResponse:
        matched = match_route(self.routes, request.path)
        function_arn = matched[0].function_for(request.method) if matched else None
        if matched is None or function_arn is None:
            return self.error("MISSING_AUTHENTICATION_TOKEN")
        refusal = self.access.refusal(matched[0].protection_for(request.method), _signed(request))
        if refusal is not None:
            return self.error(refusal)
        event = proxy_event(request, matched[0], matched[1], self.stage)
        try:
            invoked = invoke_function(self.lambda_client, function_arn, event)
        except ReadTimeoutError:
            logger.error("%s %s: no answer in time; answered 504", request.method, request.path)
            return self.error("INTEGRATION_TIMEOUT")
        if invoked.failed:
            logger.error(
                "%s %s: the function failed (%s); answered 502",
                request.method,
                request.path,
                invoked.error_type,
            )
            return self.error("DEFAULT_5XX")
        try:
            return http_response(invoked.payload)
        except ValueError as exc:
            logger.error("%s %s: %s; answered 502", request.method, request.path, exc)
            return self.error("DEFAULT_5XX")

    def error(self, response_type: str) -> GatewayResponse:
        """API Gateway's own answer, as the API's gateway responses shape it."""
        return _as_response(self.access.error(response_type))


def _signed(request: GatewayRequest) -> SignedRequest:
    headers = {name.lower(): values[-1] for name, values in request.headers.items()}
    return SignedRequest(request.method, request.path, request.query, headers, request.body)


def _refusal(
    gateway: LocalGateway, content_length: str | None, transfer_encoding: str | None
) -> GatewayResponse | None:
    """A response for a request whose body cannot or must not be read, before reading it."""
    if transfer_encoding:
        return json_response(411, {"message": "Length Required"})
    if content_length is None:
        return None
    if not content_length.strip().isdigit():
        return json_response(400, {"message": "Invalid Content-Length"})
    if int(content_length) > MAX_REQUEST_BYTES:
        return gateway.error("REQUEST_TOO_LARGE")
    return None


def _handler_class(gateway: LocalGateway) -> type[BaseHTTPRequestHandler]:
    class _GatewayHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "dofs-local-gateway"
        # Headers and body go out in two writes: with Nagle on, a kept-alive connection waits
        # out the client's delayed ACK (40 ms) before the body.
        disable_nagle_algorithm = True

        def handle(self) -> None:
            try:
                super().handle()
            except CLIENT_DISCONNECTS as exc:
                self.close_connection = True
                log_client_gone(logger, self.client_address, exc, "before the response was sent")

        def _serve(self) -> None:
            refusal = _refusal(
                gateway, self.headers.get("Content-Length"), self.headers.get("Transfer-Encoding")
            )
            if refusal is not None:
                self.close_connection = True
                self._respond(refusal)
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if len(body) < length:  # the client closed mid-body: nothing to forward, nobody to answer
                self.close_connection = True
                logger.info(
                    "client %s:%s went away after %d of %d body bytes; %s %s not forwarded",
                    *self.client_address[:2],
                    len(body),
                    length,
                    self.command,
                    self.path,
                )
                return
            split = urlsplit(self.path)
            headers: dict[str, list[str]] = {}
            for name, value in self.headers.items():
                headers.setdefault(name, []).append(value)
            request = GatewayRequest(
                self.command, split.path or "/", split.query, headers, body, self.client_address[0]
            )
            try:
                response = gateway.handle(request)
            except Exception:
                logger.exception("%s %s: the gateway failed; answered 502", request.method, request.path)
                response = gateway.error("DEFAULT_5XX")
            self._respond(response)

        def _respond(self, response: GatewayResponse) -> None:
            self.send_response(response.status)
            for name, value in response.headers:
                if name.lower() not in ("content-length", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            logger.info("%s %s", self.address_string(), format % args)

    return _GatewayHandler
