"""Where moto is needlessly slow for a queue with thousands of messages, and the local
stack makes it fast without changing what it answers.

For every message ReceiveMessage returns, moto checks the message's retention period by
computing *every* queue attribute, including ``ApproximateNumberOfMessages`` and
``...NotVisible``, each a pass over all the queue's messages. With a backlog of n
messages a batch of 10 costs some 30 passes over n, which under a soak made the
emulator, not DOFS, the bottleneck (ReceiveMessage was a fifth of all the process's
time). ``fast_sqs_receive`` reads the one attribute it needs, for as long as it is entered.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from unittest import mock

from moto.core.utils import unix_time
from moto.sqs.models import Message, SQSBackend


def _within_retention_period(backend: SQSBackend, queue_name: str, message: Message) -> bool:
    # Set from the queue's attributes by name, so not declared on moto's Queue class.
    retention_seconds = int(getattr(backend.get_queue(queue_name), "message_retention_period"))  # noqa: B009
    sent_seconds = int(message.sent_timestamp or 0) / 1000
    return bool(retention_seconds + sent_seconds > unix_time())


@contextlib.contextmanager
def fast_sqs_receive() -> Iterator[None]:
    with mock.patch.object(
        SQSBackend, "is_message_valid_based_on_retention_period", _within_retention_period
    ):
        yield
