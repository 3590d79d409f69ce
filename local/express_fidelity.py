"""Where moto is kinder to EXPRESS workflows than AWS, and the local stack makes it as strict.

On AWS an EXPRESS state machine:
- does not de-duplicate execution names: a second StartExecution with the same name runs
  the workflow again (moto refuses it, as for STANDARD);
- names each execution ``arn:...:express:<machine>:<name>:<id>``, and DescribeExecution,
  GetExecutionHistory, ListExecutions and StopExecution do not serve it (moto answers them);
- runs an asynchronously started execution at least once: the same execution may run twice.

``express_workflows_as_on_aws`` applies the first two while it is entered, and runs an
EXPRESS execution a second time when ``duplicate_run()`` says so (an injected fault), so
the tests prove that DOFS leans on none of what AWS does not give.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

from moto.core.exceptions import AWSError
from moto.stepfunctions.exceptions import InvalidArn
from moto.stepfunctions.models import StateMachine, StepFunctionBackend
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

EXPRESS = "EXPRESS"
# What AWS answers DescribeExecution and GetExecutionHistory for an EXPRESS execution.
EXPRESS_ARN_REFUSED = "Invalid Arn: 'Resource type not valid in this context: express'"
# Calls AWS refuses for an EXPRESS execution's ARN: (backend class, method name).
REFUSED_FOR_EXPRESS_ARNS = (
    (StepFunctionBackend, "describe_execution"),
    (StepFunctionBackend, "get_execution_history"),
    (StepFunctionBackend, "stop_execution"),
    (StepFunctionsParserBackend, "get_execution_history"),
)


NOT_FOR_EXPRESS = "This operation is not supported by this type of state machine"


class StateMachineTypeNotSupportedError(AWSError):
    TYPE = "StateMachineTypeNotSupported"
    STATUS = 400


def is_express_execution_arn(execution_arn: str) -> bool:
    return execution_arn.split(":")[5:6] == ["express"]


def express_execution_arn(standard_arn: str) -> str:
    """``arn:...:execution:<machine>:<name>`` → ``arn:...:express:<machine>:<name>:<id>``."""
    parts = standard_arn.split(":")
    parts[5] = "express"
    return ":".join([*parts, str(uuid.uuid4())])


def _names_deduplicated_unless_express(original: Callable[..., Any]) -> Callable[..., Any]:
    def handle_name(state_machine: StateMachine, name: str, execution_input: str) -> Any:
        if state_machine.type == EXPRESS:
            return None
        return original(state_machine, name, execution_input)

    return handle_name


def _refused_for_express(original: Callable[..., Any]) -> Callable[..., Any]:
    def refuse(backend: Any, execution_arn: str, *args: Any, **kwargs: Any) -> Any:
        if is_express_execution_arn(execution_arn):
            raise InvalidArn(EXPRESS_ARN_REFUSED)
        return original(backend, execution_arn, *args, **kwargs)

    return refuse


def _listing_refused_for_express(original: Callable[..., Any]) -> Callable[..., Any]:
    def list_executions(backend: StepFunctionBackend, state_machine_arn: str, *args: Any, **kw: Any) -> Any:
        if backend.describe_state_machine(state_machine_arn).type == EXPRESS:
            raise StateMachineTypeNotSupportedError(NOT_FOR_EXPRESS)
        return original(backend, state_machine_arn, *args, **kw)

    return list_executions


def _starts_as_express(original: Callable[..., Any], duplicate_run: Callable[[], bool]) -> Callable[..., Any]:
    def start_execution(
        backend: StepFunctionsParserBackend, state_machine_arn: str, *args: Any, **kw: Any
    ) -> Any:
        execution = _start_once(original, backend, state_machine_arn, *args, **kw)
        if backend.describe_state_machine(state_machine_arn).type == EXPRESS and duplicate_run():
            _start_once(original, backend, state_machine_arn, *args, **kw)
        return execution

    return start_execution


def _start_once(
    original: Callable[..., Any], backend: Any, state_machine_arn: str, *args: Any, **kw: Any
) -> Any:
    execution = original(backend, state_machine_arn, *args, **kw)
    if backend.describe_state_machine(state_machine_arn).type == EXPRESS:
        execution.exec_arn = execution.execution_arn = express_execution_arn(execution.execution_arn)
    return execution


@contextlib.contextmanager
def express_workflows_as_on_aws(duplicate_run: Callable[[], bool] = lambda: False) -> Iterator[None]:
    with contextlib.ExitStack() as patches:
        handle_name = StateMachine._handle_name_input_idempotency
        patches.enter_context(
            mock.patch.object(
                StateMachine,
                "_handle_name_input_idempotency",
                _names_deduplicated_unless_express(handle_name),
            )
        )
        # Both backends: moto uses the parser's when its interpreter runs, the plain one otherwise.
        for backend in (StepFunctionBackend, StepFunctionsParserBackend):
            start = backend.__dict__["start_execution"]
            patches.enter_context(
                mock.patch.object(backend, "start_execution", _starts_as_express(start, duplicate_run))
            )
        for backend, name in REFUSED_FOR_EXPRESS_ARNS:
            method = backend.__dict__[name]
            patches.enter_context(mock.patch.object(backend, name, _refused_for_express(method)))
        listing = StepFunctionBackend.__dict__["list_executions"]
        patches.enter_context(
            mock.patch.object(StepFunctionBackend, "list_executions", _listing_refused_for_express(listing))
        )
        yield
