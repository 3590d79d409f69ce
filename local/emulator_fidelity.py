"""Where moto is less atomic than AWS, and the local stack makes it as atomic.

DynamoDB applies a conditional write atomically per item, and Step Functions refuses a
second execution of the same name atomically. moto checks and writes in two steps
without a lock (read the item, evaluate the condition, store; look for the name,
create the execution), so in its threaded server two concurrent writers can both pass
the condition: two API calls with one idempotency key would both create the order, and
both start an execution. ``atomic_conditional_writes`` serialises those writes, one lock
per service, for as long as it is entered.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

from moto.dynamodb.models import DynamoDBBackend
from moto.stepfunctions.models import StepFunctionBackend
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

# moto's batch_write_item backend method is a stub: BatchWriteItem calls put_item and
# delete_item per item, which are serialised here (as on AWS, each item on its own).
DYNAMODB_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")
# StartExecution: the parser backend when the interpreter is on, the plain one otherwise.
EXECUTION_STARTS: tuple[type[Any], ...] = (StepFunctionBackend, StepFunctionsParserBackend)


def _serialised(method: Callable[..., Any], lock: threading.RLock) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return method(*args, **kwargs)

    return locked


@contextlib.contextmanager
def atomic_conditional_writes() -> Iterator[None]:
    # Re-entrant: transact_write_items calls put_item, update_item and delete_item.
    dynamodb_lock, stepfunctions_lock = threading.RLock(), threading.RLock()
    with contextlib.ExitStack() as patches:
        for name in DYNAMODB_WRITES:
            method = getattr(DynamoDBBackend, name)
            patches.enter_context(
                mock.patch.object(DynamoDBBackend, name, _serialised(method, dynamodb_lock))
            )
        for backend in EXECUTION_STARTS:
            # Each class's own method: the parser backend overrides the plain one.
            method = backend.__dict__["start_execution"]
            patches.enter_context(
                mock.patch.object(backend, "start_execution", _serialised(method, stepfunctions_lock))
            )
        yield
