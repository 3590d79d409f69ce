"""Route moto's Lambda invocations to the real handler code, in this process.

moto runs Lambda code in Docker, which this machine lacks. ``InProcessLambdaRuntime``
replaces moto's invoker: it imports the function's configured handler
(``handlers.validator.handler``), applies the function's environment variables, calls
it, and reports an exception the way Lambda does (``errorType``/``errorMessage`` with
``FunctionError``), so Step Functions' Retry and Catch see the real error names.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from botocore.client import BaseClient
from moto.awslambda.models import LambdaFunction

logger = logging.getLogger("dofs.local.lambda")
MAX_RECORDED_INVOCATIONS = 10_000

Handler = Callable[[Any, Any], Any]


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return self.function_name

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


@dataclass(frozen=True)
class Invocation:
    function_name: str
    event: Any
    result: Any
    error_type: str | None


def error_payload(exc: BaseException) -> dict[str, Any]:
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


@dataclass(frozen=True)
class Invoked:
    payload: Any  # the function's result, or Lambda's error document
    error_type: str | None  # errorType when the function failed

    @property
    def failed(self) -> bool:
        return self.error_type is not None


def invoke_function(lambda_client: BaseClient, function_arn: str, event: Any) -> Invoked:
    """A synchronous invoke through the emulator's Lambda API, as AWS's own invokers
    (API Gateway, the SQS poller) make it."""
    response = lambda_client.invoke(FunctionName=function_arn, Payload=json.dumps(event))
    payload = json.loads(response["Payload"].read() or b"null")
    if not response.get("FunctionError"):
        return Invoked(payload, None)
    error_type = payload.get("errorType") if isinstance(payload, dict) else None
    return Invoked(payload, str(error_type or response["FunctionError"]))


def load_handler(spec: str) -> Handler:
    module_name, _, attribute = spec.rpartition(".")
    handler: Handler = getattr(importlib.import_module(module_name), attribute)
    return handler


class PerThreadEnviron(MutableMapping[str, str]):
    """``os.environ`` while a runtime is active: a thread running a handler sees its
    function's variables over the process's, as in its own Lambda sandbox, so functions
    run concurrently without seeing each other's settings."""

    def __init__(self, process_environ: MutableMapping[str, str]) -> None:
        self.process_environ = process_environ
        self._local = threading.local()

    def _overlay(self) -> dict[str, str] | None:
        overlay: dict[str, str] | None = getattr(self._local, "overlay", None)
        return overlay

    @contextlib.contextmanager
    def overlay(self, variables: Mapping[str, str]) -> Iterator[None]:
        outer = self._overlay()
        self._local.overlay = {**(outer or {}), **{k: str(v) for k, v in variables.items()}}
        try:
            yield
        finally:
            self._local.overlay = outer

    def __getitem__(self, key: str) -> str:
        overlay = self._overlay()
        if overlay is not None and key in overlay:
            return overlay[key]
        return self.process_environ[key]

    def __setitem__(self, key: str, value: str) -> None:
        overlay = self._overlay()
        (self.process_environ if overlay is None else overlay)[key] = value

    def __delitem__(self, key: str) -> None:
        overlay = self._overlay()
        if overlay is not None and key in overlay:
            del overlay[key]
        else:
            del self.process_environ[key]

    def __iter__(self) -> Iterator[str]:
        overlay = self._overlay() or {}
        yield from overlay
        yield from (key for key in self.process_environ if key not in overlay)

    def __len__(self) -> int:
        return len(set(self.process_environ) | set(self._overlay() or {}))

    def copy(self) -> dict[str, str]:
        return dict(self)


class InProcessLambdaRuntime:
    """Context manager: while active, every moto Lambda invoke runs the real handler.

    Invocations run concurrently, each seeing its own function's environment variables
    through ``os.environ`` (``PerThreadEnviron``), as separate Lambda sandboxes would.
    """

    def __init__(self, base_environment: Mapping[str, str] | None = None) -> None:
        self.base_environment = dict(base_environment or {})
        # What ran, for tests to inspect; bounded, as `make run` may run for days.
        self.invocations: deque[Invocation] = deque(maxlen=MAX_RECORDED_INVOCATIONS)
        self._faults: dict[str, list[BaseException]] = {}
        self._faults_lock = threading.Lock()
        self._running = threading.local()
        self._environ = PerThreadEnviron(os.environ)
        self._patches: list[Any] = []

    @property
    def current_function(self) -> str | None:
        """The function whose handler runs on this thread, if any (for call tracing)."""
        name: str | None = getattr(self._running, "function_name", None)
        return name

    def inject_failure(self, function_name: str, exc: Exception, times: int = 1) -> None:
        """Make the next ``times`` invocations of ``function_name`` raise ``exc`` (tests only)."""
        with self._faults_lock:
            self._faults.setdefault(function_name, []).extend([exc] * times)

    def _raise_injected_fault(self, function_name: str) -> None:
        with self._faults_lock:
            pending = self._faults.get(function_name)
            fault = pending.pop(0) if pending else None
        if fault is not None:
            raise fault

    def invoke(
        self,
        handler_spec: str,
        *,
        function_name: str,
        environment: Mapping[str, str],
        event: Any,
        memory_mb: int = 128,
        timeout_seconds: int = 3,
    ) -> tuple[Any, str | None]:
        """Run one handler; returns (result or error payload, error type or None)."""
        if not self.active:
            raise RuntimeError("InProcessLambdaRuntime.invoke needs the runtime entered (with ...)")
        context = LambdaContext(function_name, memory_mb, timeout_seconds)
        with self._environ.overlay({**self.base_environment, **environment}):
            outer, self._running.function_name = self.current_function, function_name
            try:
                self._raise_injected_fault(function_name)
                result = load_handler(handler_spec)(event, context)
                error_type = None
            except Exception as exc:  # Lambda reports every handler exception the same way
                result, error_type = error_payload(exc), type(exc).__name__
                logger.warning("%s raised %s: %s", function_name, error_type, exc, exc_info=exc)
            finally:
                self._running.function_name = outer
        self.invocations.append(Invocation(function_name, event, result, error_type))
        return result, error_type

    @property
    def active(self) -> bool:
        return bool(self._patches)

    def _moto_invoke(self, function: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
        if isinstance(event, str):
            event = json.loads(event or "{}")
        result, error_type = self.invoke(
            str(function.handler),
            function_name=function.function_name,
            environment=function.environment_vars or {},
            event=event if event is not None else {},
            memory_mb=int(function.memory_size or 128),
            timeout_seconds=int(function.timeout or 3),
        )
        try:
            return json.dumps(result), error_type is not None, ""
        except (TypeError, ValueError) as exc:  # as Lambda reports a result it cannot serialise
            marshal_error = {
                "errorMessage": f"Unable to marshal response: {exc}",
                "errorType": "Runtime.MarshalError",
            }
            return json.dumps(marshal_error), True, ""

    def __enter__(self) -> InProcessLambdaRuntime:
        runtime = self

        def _invoke_lambda(function: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
            return runtime._moto_invoke(function, event)

        self._environ = PerThreadEnviron(os.environ)
        self._patches = [
            mock.patch.object(LambdaFunction, "_invoke_lambda", _invoke_lambda),
            mock.patch.object(os, "environ", self._environ),
        ]
        for patch in self._patches:
            patch.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        for patch in reversed(self._patches):
            patch.stop()
        self._patches = []
