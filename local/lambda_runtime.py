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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from moto.awslambda.models import LambdaFunction

logger = logging.getLogger("dofs.local.lambda")

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


def load_handler(spec: str) -> Handler:
    module_name, _, attribute = spec.rpartition(".")
    handler: Handler = getattr(importlib.import_module(module_name), attribute)
    return handler


class InProcessLambdaRuntime:
    """Context manager: while active, every moto Lambda invoke runs the real handler.

    Invocations are serialised because each applies its own function's environment
    variables to ``os.environ``, as a separate Lambda sandbox would have them.
    """

    def __init__(self, base_environment: Mapping[str, str] | None = None) -> None:
        self.base_environment = dict(base_environment or {})
        self.invocations: list[Invocation] = []
        self._faults: dict[str, list[BaseException]] = {}
        self._lock = threading.RLock()
        self._running = threading.local()
        self._patch: Any = None

    @property
    def current_function(self) -> str | None:
        """The function whose handler runs on this thread, if any (for call tracing)."""
        name: str | None = getattr(self._running, "function_name", None)
        return name

    def inject_failure(self, function_name: str, exc: Exception, times: int = 1) -> None:
        """Make the next ``times`` invocations of ``function_name`` raise ``exc`` (tests only)."""
        self._faults.setdefault(function_name, []).extend([exc] * times)

    def _raise_injected_fault(self, function_name: str) -> None:
        pending = self._faults.get(function_name)
        if pending:
            raise pending.pop(0)

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
        context = LambdaContext(function_name, memory_mb, timeout_seconds)
        with self._lock, self._environment({**self.base_environment, **environment}):
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

    @contextlib.contextmanager
    def _environment(self, variables: Mapping[str, str]) -> Iterator[None]:
        with mock.patch.dict(os.environ, {k: str(v) for k, v in variables.items()}):
            yield

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
        return json.dumps(result), error_type is not None, ""

    def __enter__(self) -> InProcessLambdaRuntime:
        runtime = self

        def _invoke_lambda(function: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
            return runtime._moto_invoke(function, event)

        self._patch = mock.patch.object(LambdaFunction, "_invoke_lambda", _invoke_lambda)
        self._patch.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._patch.stop()
