"""Faults the local stack injects in the emulator, where no handler code runs.

The handlers inject their own faults from the plan in ``DOFS_FAULTS`` (handlers.faults);
``FaultPoint.ENQUEUE`` is served here, in moto's SQS, because the message the workflow
sends to the order queue goes from Step Functions straight to SQS.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterator
from typing import Any
from unittest import mock

from moto.sqs.exceptions import SQSException
from moto.sqs.models import SQSBackend

from handlers.faults import FaultInjector, FaultPoint

ENQUEUE_FAULT_MESSAGE = f"injected fault at {FaultPoint.ENQUEUE.value}"


class EnqueueRefused(SQSException):
    """A 4xx error of SendMessage's own (an error shape SQS declares), which botocore does
    not retry, so the caller (the workflow's SendMessage task) sees every injected fault."""

    code = "KmsAccessDenied"

    def __init__(self) -> None:
        super().__init__(ENQUEUE_FAULT_MESSAGE)


@contextlib.contextmanager
def refused_enqueues(injector: FaultInjector, queue_names: Collection[str]) -> Iterator[None]:
    """While entered, SendMessage to ``queue_names`` fails at the plan's ENQUEUE rate."""
    send = SQSBackend.send_message

    def send_message(backend: SQSBackend, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        if queue_name in queue_names and injector.fires(FaultPoint.ENQUEUE):
            raise EnqueueRefused()
        return send(backend, queue_name, *args, **kwargs)

    with mock.patch.object(SQSBackend, "send_message", send_message):
        yield
