"""Partial batch responses, read the way Lambda's event source mapping reads them."""

from __future__ import annotations

import pytest

from local.event_source import failed_message_ids

BATCH = {"m1", "m2", "m3"}


@pytest.mark.parametrize(
    ("response", "kept"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "m2"}]}, {"m2"}),
        ({"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m3"}]}, {"m1", "m3"}),
        # Lambda fails the whole batch when the response names no message or another one.
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, BATCH),
        ({"batchItemFailures": [{"itemIdentifier": "elsewhere"}]}, BATCH),
        ({"batchItemFailures": [{"id": "m1"}]}, BATCH),
        ({"batchItemFailures": ["m1"]}, BATCH),
        ({"batchItemFailures": "m1"}, BATCH),
    ],
)
def test_messages_kept_on_the_queue(response: object, kept: set[str]) -> None:
    assert failed_message_ids(response, BATCH) == kept
