"""The local stack's faster ReceiveMessage answers exactly what moto's own does."""

from __future__ import annotations

import time
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.sqs.models import Message, SQSBackend, sqs_backends

from local.emulator_speed import fast_sqs_receive

REGION = "us-east-1"
RETENTION_SECONDS = 60


@pytest.fixture
def backend() -> Iterator[SQSBackend]:
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        sqs.create_queue(QueueName="q", Attributes={"MessageRetentionPeriod": str(RETENTION_SECONDS)})
        yield sqs_backends[DEFAULT_ACCOUNT_ID][REGION]


def _message_sent_ago(backend: SQSBackend, seconds: float) -> Message:
    message = backend.send_message("q", "{}")
    message.sent_timestamp = int((time.time() - seconds) * 1000)  # type: ignore[assignment]
    return message


@pytest.mark.parametrize("age_seconds", [0, 30, RETENTION_SECONDS - 1, RETENTION_SECONDS + 1, 3600])
def test_the_retention_check_agrees_with_motos(backend: SQSBackend, age_seconds: int) -> None:
    message = _message_sent_ago(backend, age_seconds)
    motos = backend.is_message_valid_based_on_retention_period("q", message)

    with fast_sqs_receive():
        fast = backend.is_message_valid_based_on_retention_period("q", message)

    assert fast == motos == (age_seconds < RETENTION_SECONDS)


def test_receive_returns_what_is_retained_and_the_patch_is_undone(backend: SQSBackend) -> None:
    _message_sent_ago(backend, 10)
    original = SQSBackend.is_message_valid_based_on_retention_period

    with fast_sqs_receive():
        received = backend.receive_message("q", count=10, wait_seconds_timeout=0, visibility_timeout=30)

    assert len(received) == 1
    assert SQSBackend.is_message_valid_based_on_retention_period is original
