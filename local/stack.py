"""The whole of DOFS on this machine: moto's server, the program's resources created in it
by running ``__main__.py`` under emulator mocks, a local API gateway, and SQS pollers.

Everything runs in this one process (threads), so stopping it leaves nothing behind.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.client import BaseClient
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from components.config import parse_settings
from handlers.aws import reset_clients
from local.asl_parse_cache import cached_asl_parsing
from local.emulator_mocks import INERT, NOT_EMULATED, DeclaredResource, EmulatorMocks
from local.errors import LocalStackError, PortInUseError
from local.event_source import EventSourceMapping, QueuePoller
from local.gateway import LocalGateway, load_routes
from local.lambda_runtime import InProcessLambdaRuntime
from local.pulumi_runner import run_program, stack_config

logger = logging.getLogger("dofs.local")

HOST = "127.0.0.1"
DEFAULT_API_PORT = 8080
DEFAULT_AWS_PORT = 4566
# moto's server needs credentials on requests but checks none of them.
EMULATOR_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
EMULATOR_CONFIG = {"stepfunctions": {"execute_state_machine": True}}


@dataclass(frozen=True)
class LocalStackOptions:
    stack: str = "dev"
    api_port: int = DEFAULT_API_PORT
    aws_port: int = DEFAULT_AWS_PORT
    config: Mapping[str, str] = field(default_factory=dict)


def ensure_port_free(port: int, option: str) -> None:
    """Fail with one line naming the port and the option, before anything starts."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the servers bind: connections of a previous run in TIME_WAIT do not count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                raise PortInUseError(port, option) from exc
            raise


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


class _ProcessEnvironment:
    """Environment variables set for the stack's lifetime, restored when it stops."""

    def __init__(self) -> None:
        self._saved: dict[str, str | None] = {}

    def update(self, variables: Mapping[str, str]) -> None:
        for name, value in variables.items():
            self._saved.setdefault(name, os.environ.get(name))
            os.environ[name] = value

    def restore(self) -> None:
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved.clear()


class LocalStack:
    """Start with ``start()``, stop with ``stop()`` (or use as a context manager)."""

    def __init__(self, options: LocalStackOptions) -> None:
        self.options = options
        self.config = {**stack_config(options.stack), **options.config}
        # The program checks its settings too; checking first fails before anything starts.
        self.settings = parse_settings(self.config, options.stack)
        self.region = self.config.get("aws:region", "us-east-1")
        self.outputs: dict[str, Any] = {}
        self.resources: list[DeclaredResource] = []
        self.pollers: list[QueuePoller] = []
        self.runtime = InProcessLambdaRuntime()
        self._parse_cache = cached_asl_parsing()
        self.gateway: LocalGateway | None = None
        self._moto: ThreadedMotoServer | None = None
        self.aws_endpoint = ""
        self._environment = _ProcessEnvironment()

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> LocalStack:
        ensure_port_free(self.options.api_port, "--port")
        ensure_port_free(self.options.aws_port, "--aws-port")
        try:
            self._start_emulator()
            reset_clients()
            self._parse_cache.__enter__()
            self.runtime.__enter__()
            self._deploy()
            self._start_gateway()
            self._start_pollers()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for poller in self.pollers:
            poller.stop()
        for poller in self.pollers:
            poller.join(timeout=5)
        if self.gateway:
            self.gateway.stop()
            self.gateway = None
        if self._moto:
            self._moto.stop()
            self._moto = None
        if self.runtime.active:
            self.runtime.__exit__(None, None, None)
            self._parse_cache.__exit__(None, None, None)
        self._environment.restore()
        reset_clients()  # handler clients were bound to this emulator's endpoint

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- pieces ------------------------------------------------------------------------

    def _start_emulator(self) -> None:
        port = self.options.aws_port or _free_port()
        self._moto = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)
        self._moto.start()
        self.aws_endpoint = f"http://{HOST}:{port}"
        # Handlers build their clients from the environment; moto's Step Functions
        # interpreter calls back to localhost:$MOTO_PORT.
        self._environment.update(
            {
                **EMULATOR_CREDENTIALS,
                "AWS_ENDPOINT_URL": self.aws_endpoint,
                "AWS_REGION": self.region,
                "AWS_DEFAULT_REGION": self.region,
                "MOTO_PORT": str(port),
            }
        )
        # moto's state is per process: start from empty, as a fresh account would.
        self._emulator_api("reset", None)
        self._emulator_api("config", EMULATOR_CONFIG)

    def _emulator_api(self, action: str, document: Any) -> None:
        request = urllib.request.Request(
            f"{self.aws_endpoint}/moto-api/{action}",
            data=json.dumps(document).encode() if document is not None else b"",
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            if response.status >= 300:
                raise LocalStackError(f"the emulator refused /moto-api/{action} ({response.status})")

    def client(self, service: str) -> BaseClient:
        return boto3.client(service, region_name=self.region, endpoint_url=self.aws_endpoint)

    def _deploy(self) -> None:
        # The gateway's URL is an output of the program (the stage's invoke URL), so the
        # socket is bound first and served once the API exists.
        self.gateway = LocalGateway(
            HOST,
            self.options.api_port,
            lambda_client=self.client("lambda"),
            routes=[],
            stage=self.options.stack,
        )
        mocks = EmulatorMocks(self.aws_endpoint, self.region, self.gateway.url)
        self.outputs = run_program(mocks, self.options.stack, self.options.config)
        self.resources = sorted(mocks.resources, key=lambda r: (r.type, r.name))

    def _start_gateway(self) -> None:
        assert self.gateway is not None
        (rest_api,) = [r for r in self.resources if r.type == "aws:apigateway/restApi:RestApi"]
        self.gateway.routes = load_routes(self.client("apigateway"), rest_api.id)
        self.gateway.start()

    def _start_pollers(self) -> None:
        sqs, lambda_client = self.client("sqs"), self.client("lambda")
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
            )
            poller.start()
            self.pollers.append(poller)

    # -- reporting ---------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return str(self.outputs["api_url"])

    def not_served(self) -> list[tuple[DeclaredResource, str]]:
        """Declared resources the local stack does not run, with the reason."""
        reasons = {**NOT_EMULATED, **INERT}
        return [(r, reasons[r.type]) for r in self.resources if r.type in reasons]
