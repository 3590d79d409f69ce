"""The whole of DOFS on this machine: moto's server, the program's resources created in it
by running ``__main__.py`` under emulator mocks, a local API gateway, SQS pollers and
EventBridge schedules; optionally with faults injected (a ``FaultPlan``).

Everything runs in this one process (threads), so stopping it leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import socket
import sys
import threading
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from unittest import mock

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from moto.core.config import default_user_config
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, ThreadedWSGIServer

from components.config import parse_settings
from handlers.aws import reset_clients
from handlers.faults import DOFS_FAULTS, FaultInjector, FaultPlan, FaultPoint
from local.asl_parse_cache import cached_asl_parsing
from local.emulator_fidelity import atomic_conditional_writes
from local.emulator_mocks import INERT, NOT_EMULATED, DeclaredResource, EmulatorMocks
from local.emulator_speed import fast_sqs_receive
from local.errors import LocalStackError, PortInUseError
from local.event_source import EventSourceMapping, QueuePoller
from local.express_fidelity import express_workflows_as_on_aws
from local.gateway import INTEGRATION_TIMEOUT_SECONDS, LocalGateway, load_routes
from local.gateway_access import load_access
from local.injected_faults import refused_enqueues
from local.lambda_runtime import InProcessLambdaRuntime
from local.pulumi_runner import run_program, stack_config
from local.scheduler import ScheduledInvoker, schedules_in
from local.server_errors import describe, log_client_gone, log_request_failure

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

logger = logging.getLogger("dofs.local")
emulator_logger = logging.getLogger("dofs.local.emulator")

HOST = "127.0.0.1"
DEFAULT_API_PORT = 8080
DEFAULT_AWS_PORT = 4566
# moto's server needs credentials on requests but checks none of them.
EMULATOR_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
EMULATOR_CONFIG = {"stepfunctions": {"execute_state_machine": True}}
# Lambda's own invokers neither retry a call (that would run the handler again) nor
# give up before the longest function timeout.
LAMBDA_INVOKE_CONFIG = Config(retries={"total_max_attempts": 1}, read_timeout=900, connect_timeout=5)
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"


@dataclass(frozen=True)
class LocalStackOptions:
    stack: str = "dev"
    api_port: int = DEFAULT_API_PORT
    aws_port: int = DEFAULT_AWS_PORT
    config: Mapping[str, str] = field(default_factory=dict)
    faults: FaultPlan | None = None  # None: no faults
    schedule_every_seconds: float | None = None  # None: every schedule at its own rate


def ensure_port_free(port: int, option: str) -> None:
    """Fail with one line naming the port and the option, before anything starts."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as client:
        client.settimeout(1)
        if client.connect_ex((HOST, port)) == 0:  # a listener on any address, e.g. 0.0.0.0
            raise PortInUseError(port, option)
    listening_socket(port, option).close()


def listening_socket(port: int, option: str) -> socket.socket:
    """A socket listening on ``HOST:port``, bound as the servers bind (connections of a
    previous run in TIME_WAIT do not count); a busy port is named with its option."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((HOST, port))
        listener.listen(128)
    except OSError as exc:
        listener.close()
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            raise PortInUseError(port, option) from exc
        raise
    return listener


class _EmulatorRequestHandler(MotoRequestHandler):
    def connection_dropped(self, error: BaseException, environ: Any = None) -> None:
        log_client_gone(emulator_logger, self.client_address, error, "before the response was sent")


class _EmulatorServer(ThreadedWSGIServer):
    """moto's server, whose request failures are one line in the log, never a traceback."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        log_request_failure(emulator_logger, client_address)


def _one_line_errors(app: WSGIApplication) -> WSGIApplication:
    """werkzeug logs an application error as a multi-line traceback; this answers the same
    500 and logs one line (a bad request from a client can make moto raise)."""

    def guarded(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            return app(environ, start_response)
        except Exception as exc:
            emulator_logger.info(
                "%s %s failed in the emulator: %s",
                environ.get("REQUEST_METHOD"),
                environ.get("PATH_INFO"),
                describe(exc),
            )
            start_response("500 INTERNAL SERVER ERROR", [("Content-Type", "text/plain")], sys.exc_info())
            return [b"emulator error"]

    return guarded


def _shut_down(server: BaseWSGIServer, thread: threading.Thread) -> None:
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


class LocalStack:
    """Start with ``start()``, stop with ``stop()`` (or use as a context manager)."""

    def __init__(self, options: LocalStackOptions) -> None:
        self.options = options
        config = {**stack_config(options.stack), **options.config}
        # The program checks its settings too; checking first fails before anything starts.
        parse_settings(config, options.stack)
        if options.schedule_every_seconds is not None and not options.schedule_every_seconds > 0:
            raise LocalStackError(f"schedules must run every > 0 s, not {options.schedule_every_seconds}")
        self.region = config.get("aws:region", "us-east-1")
        self.outputs: dict[str, Any] = {}
        self.resources: list[DeclaredResource] = []
        self.pollers: list[QueuePoller] = []
        self.schedules: list[ScheduledInvoker] = []
        plan = options.faults
        # One injector for the faults the stack serves itself (the pollers', the emulator's);
        # the handlers draw theirs from the plan in their environment.
        self.faults = FaultInjector(plan) if plan is not None else None
        self.runtime = InProcessLambdaRuntime({DOFS_FAULTS: plan.to_json()} if plan is not None else {})
        self.gateway: LocalGateway | None = None
        self.aws_endpoint = ""
        self._running = contextlib.ExitStack()

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> LocalStack:
        """Start every piece; each one started is stopped again, in reverse, by ``stop()``."""
        ensure_port_free(self.options.api_port, "--port")
        ensure_port_free(self.options.aws_port, "--aws-port")
        try:
            self._running.enter_context(atomic_conditional_writes())
            self._running.enter_context(express_workflows_as_on_aws(self._duplicate_execution))
            self._running.enter_context(fast_sqs_receive())
            self._start_emulator()
            self._running.callback(reset_clients)  # handler clients are bound to this emulator
            reset_clients()
            self._running.enter_context(cached_asl_parsing())
            self._running.enter_context(self.runtime)
            self._deploy()
            self._inject_emulator_faults()
            self._start_gateway()
            self._start_pollers()
            self._start_schedules()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self._running.close()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- pieces ------------------------------------------------------------------------

    def _start_emulator(self) -> None:
        # Bound here, not by werkzeug, which answers a busy port with sys.exit(1).
        with listening_socket(self.options.aws_port, "--aws-port") as listener:
            server = _EmulatorServer(
                HOST,
                self.options.aws_port,
                _one_line_errors(DomainDispatcherApplication(create_backend_app)),
                _EmulatorRequestHandler,
                fd=listener.fileno(),  # the server keeps a duplicate of it
            )
        thread = threading.Thread(target=server.serve_forever, name="aws-emulator", daemon=True)
        thread.start()
        self._running.callback(_shut_down, server, thread)
        port = server.server_address[1]
        self.aws_endpoint = f"http://{HOST}:{port}"
        # Handlers build their clients from the environment; moto's Step Functions
        # interpreter calls back to localhost:$MOTO_PORT.
        process_environment = {
            **EMULATOR_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.aws_endpoint,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "MOTO_PORT": str(port),
        }
        self._running.enter_context(mock.patch.dict(os.environ, process_environment))
        # moto's state and config are per process: start from empty, as a fresh account
        # would, and leave moto's config as it was for whatever this process does next.
        self._running.enter_context(mock.patch.dict(default_user_config))
        self._emulator_api("reset", None)
        self._emulator_api("config", EMULATOR_CONFIG)

    def _emulator_api(self, action: str, document: Any) -> None:
        request = urllib.request.Request(
            f"{self.aws_endpoint}/moto-api/{action}",
            data=json.dumps(document).encode() if document is not None else b"",
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            urllib.request.urlopen(request, timeout=10).close()
        except OSError as exc:  # URLError and HTTPError included
            raise LocalStackError(f"the emulator did not take /moto-api/{action}: {exc}") from exc

    def client(self, service: str, config: Config | None = None) -> BaseClient:
        return boto3.client(service, region_name=self.region, endpoint_url=self.aws_endpoint, config=config)

    def _deploy(self) -> None:
        # The gateway's URL is an output of the program (the stage's invoke URL), so the
        # socket is bound first and served once the API exists.
        self.gateway = LocalGateway(
            listening_socket(self.options.api_port, "--port"),
            lambda_client=self.client(
                "lambda", LAMBDA_INVOKE_CONFIG.merge(Config(read_timeout=INTEGRATION_TIMEOUT_SECONDS))
            ),
        )
        self._running.callback(self.gateway.stop)
        mocks = EmulatorMocks(self.aws_endpoint, self.region, self.gateway.url)
        self.outputs = run_program(mocks, self.options.stack, self.options.config)
        self.resources = sorted(mocks.resources, key=lambda r: (r.type, r.name))

    def _start_gateway(self) -> None:
        assert self.gateway is not None
        (rest_api,) = self.declared("aws:apigateway/restApi:RestApi")
        (stage,) = self.declared("aws:apigateway/stage:Stage")
        apigateway, stage_name = self.client("apigateway"), stage.inputs["stageName"]
        self.gateway.serve(
            load_routes(apigateway, rest_api.id),
            stage_name,
            load_access(apigateway, rest_api.id, stage_name, self.region),
        )

    def declared(self, typ: str) -> list[DeclaredResource]:
        return [r for r in self.resources if r.type == typ]

    def _start_pollers(self) -> None:
        sqs, lambda_client = self.client("sqs"), self.client("lambda", LAMBDA_INVOKE_CONFIG)
        for mapping in lambda_client.list_event_source_mappings()["EventSourceMappings"]:
            if mapping.get("State") == "Disabled":
                continue
            queue_name = mapping["EventSourceArn"].rsplit(":", 1)[-1]
            queue_url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
            poller = QueuePoller(
                EventSourceMapping.from_emulator(mapping, queue_url),
                sqs=sqs,
                lambda_client=lambda_client,
                region=self.region,
                faults=self.faults,
            )
            poller.start()
            self.pollers.append(poller)
            self._running.callback(poller.stop)

    def _start_schedules(self) -> None:
        lambda_client = self.client("lambda", LAMBDA_INVOKE_CONFIG)
        for schedule in schedules_in(self.client("events"), self.options.schedule_every_seconds):
            invoker = ScheduledInvoker(schedule, lambda_client=lambda_client)
            invoker.start()
            self.schedules.append(invoker)
            self._running.callback(invoker.stop)

    def _duplicate_execution(self) -> bool:
        return self.faults is not None and self.faults.fires(FaultPoint.DUPLICATE_EXECUTION)

    def _inject_emulator_faults(self) -> None:
        """The order queue (the queue with a redrive policy, not the DLQ) refuses sends."""
        if self.faults is None:
            return
        order_queues = {
            q.inputs["name"] for q in self.declared("aws:sqs/queue:Queue") if q.inputs.get("redrivePolicy")
        }
        self._running.enter_context(refused_enqueues(self.faults, order_queues))

    # -- reporting ---------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return str(self.outputs["api_url"])

    def not_served(self) -> list[tuple[DeclaredResource, str]]:
        """Declared resources the local stack does not run, with the reason."""
        served_rules = {s.schedule.rule_name for s in self.schedules}
        served_targets = {s.schedule.target_resource_id for s in self.schedules}
        reasons = [(r, _not_served_reason(r, served_rules, served_targets)) for r in self.resources]
        return [(r, reason) for r, reason in reasons if reason is not None]


def _not_served_reason(
    resource: DeclaredResource, served_rules: set[str], served_targets: set[str]
) -> str | None:
    if resource.type == EVENT_RULE and resource.inputs.get("scheduleExpression"):
        return None if resource.id in served_rules else "a schedule disabled or without a Lambda target"
    if resource.type == EVENT_TARGET and resource.inputs["rule"] in served_rules:
        return None if resource.id in served_targets else "only Lambda targets of a schedule run locally"
    return NOT_EMULATED.get(resource.type) or INERT.get(resource.type)
