"""Log volume as production pays for it: each function writes at most one INFO line per order
per step, on the happy path and on the failure paths. Anything else is DEBUG, or WARN and
ERROR where something is wrong."""

from __future__ import annotations

import functools
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from handlers import api_handler, dlq_processor, fulfill_order, order_storage, reconciler, validator
from handlers.models import OrderStatus
from tests.unit.conftest import Tables
from tests.unit.support import (
    api_event,
    fixture_text,
    handler_loggers_at,
    log_lines,
    order_message,
    response_json,
    seed_order,
    sqs_event,
    sqs_record,
)

PENDING = OrderStatus.PENDING_FULFILLMENT.value
Invocation = Callable[[], Any]


@pytest.fixture(autouse=True)
def _debug_level() -> Iterator[None]:
    """Every line is written, so the test sees what each level holds, not what a filter left."""
    with handler_loggers_at(logging.DEBUG):
        yield


@pytest.fixture
def env(
    tables: Tables, state_machine_arn: str, order_queue_url: str, monkeypatch: pytest.MonkeyPatch
) -> Tables:
    for name, value in {
        "RECONCILE_RECEIVED_AFTER_SECONDS": "60",
        "RECONCILE_PENDING_AFTER_SECONDS": "600",
        "RECONCILE_MAX_ATTEMPTS": "3",
    }.items():
        monkeypatch.setenv(name, value)
    return tables


def run_logged(capsys: pytest.CaptureFixture[str], invocation: Invocation) -> list[dict[str, Any]]:
    """What one invocation writes."""
    capsys.readouterr()
    invocation()
    return log_lines(capsys.readouterr().out)


def info_lines_per_order(entries: list[dict[str, Any]]) -> Counter[str | None]:
    return Counter(entry.get("order_id") for entry in entries if entry["level"] == "INFO")


def assert_at_most_one_info_line_per_order(entries: list[dict[str, Any]]) -> None:
    per_order = info_lines_per_order(entries)
    assert all(count == 1 for count in per_order.values()), per_order
    assert {entry["level"] for entry in entries} <= {"DEBUG", "INFO", "WARN", "ERROR"}


def post(body: str, key: str | None = None, content_type: str | None = "application/json") -> Invocation:
    headers = {"Idempotency-Key": key} if key is not None else {}
    event = api_event("POST", "/order", body, headers, content_type=content_type)
    return lambda: api_handler.handler(event, None)


# --- api_handler --------------------------------------------------------------------------------


def test_the_api_writes_one_info_line_per_request_about_an_order(
    env: Tables, valid_order_text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    first = run_logged(capsys, post(valid_order_text, key="volume-key"))
    retry = run_logged(capsys, post(valid_order_text, key="volume-key"))
    reused = run_logged(
        capsys, post(valid_order_text.replace('"quantity": 2', '"quantity": 5'), "volume-key")
    )

    for entries in (first, retry, reused):
        assert_at_most_one_info_line_per_order(entries)
        assert sum(info_lines_per_order(entries).values()) == 1


def test_the_api_writes_nothing_at_info_for_a_status_lookup(
    env: Tables, valid_order_text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    order_id = response_json(post(valid_order_text)())["order_id"]
    lookup = api_event("GET", f"/orders/{order_id}", None, content_type=None)

    assert run_logged(capsys, lambda: api_handler.handler(lookup, None)) == []


@pytest.mark.parametrize(
    "invocation",
    [
        post(fixture_text("invalid_order_missing_customer.json")),
        post(fixture_text("valid_order.json"), content_type=None),
        post("{not json"),
    ],
    ids=["wrong-shape", "wrong-content-type", "not-json"],
)
def test_a_refused_request_is_one_info_line(
    env: Tables, capsys: pytest.CaptureFixture[str], invocation: Invocation
) -> None:
    entries = run_logged(capsys, invocation)

    assert [entry["level"] for entry in entries] == ["INFO"]


def test_an_order_whose_workflow_cannot_start_is_one_warning_and_one_info_line(
    env: Tables, state_machine_arn: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STEP_FUNCTION_ARN", state_machine_arn.rsplit(":", 1)[0] + ":dofs-no-such-machine")

    entries = run_logged(capsys, post(fixture_text("valid_order.json")))

    assert sorted(entry["level"] for entry in entries) == ["INFO", "WARN"]
    assert_at_most_one_info_line_per_order(entries)


# --- the workflow's steps -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", [fixture_text("valid_order.json"), fixture_text("order_with_wrong_total.json"), "{"]
)
def test_the_validator_writes_one_info_line_per_order(body: str, capsys: pytest.CaptureFixture[str]) -> None:
    entries = run_logged(capsys, lambda: validator.handler({"order_id": "ord-v", "request_body": body}, None))

    assert info_lines_per_order(entries) == Counter({"ord-v": 1})


def test_order_storage_writes_one_info_line_per_order_for_each_operation(
    env: Tables, valid_order_text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    valid = validator.handler({"order_id": "ord-s1", "request_body": valid_order_text}, None)
    for order_id in ("ord-s1", "ord-s2", "ord-s3"):
        seed_order(env.orders, order_id, OrderStatus.RECEIVED.value)
    requests = [
        {"operation": "store_validated", "order_id": "ord-s1", "order": valid["order"]},
        {"operation": "record_rejection", "order_id": "ord-s2", "reasons": ["total_amount: wrong"]},
        {"operation": "record_workflow_failure", "order_id": "ord-s3", "error": "States.Timeout"},
    ]

    for request in requests:
        entries = run_logged(capsys, functools.partial(order_storage.handler, request, None))
        assert info_lines_per_order(entries) == Counter({request["order_id"]: 1}), request["operation"]


# --- the queue's consumers ----------------------------------------------------------------------


def fulfill(*order_ids: str) -> Invocation:
    event = sqs_event(*(sqs_record(f"msg-{order_id}", order_message(order_id)) for order_id in order_ids))
    return lambda: fulfill_order.handler(event, None)


def test_fulfillment_writes_one_info_line_per_fulfilled_order_and_none_for_a_redelivery(
    env: Tables, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FULFILLMENT_SUCCESS_RATE", "1")
    for order_id in ("ord-f1", "ord-f2", "ord-f3"):
        seed_order(env.orders, order_id, PENDING)

    batch = run_logged(capsys, fulfill("ord-f1", "ord-f2", "ord-f3"))
    redelivery = run_logged(capsys, fulfill("ord-f1"))

    assert info_lines_per_order(batch) == Counter({"ord-f1": 1, "ord-f2": 1, "ord-f3": 1})
    assert info_lines_per_order(redelivery) == Counter()
    assert [entry["level"] for entry in redelivery] == ["DEBUG"]


def test_a_failed_fulfillment_attempt_is_one_warning_without_a_traceback(
    env: Tables, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FULFILLMENT_SUCCESS_RATE", "0")
    seed_order(env.orders, "ord-f4", PENDING)

    (entry,) = run_logged(capsys, fulfill("ord-f4"))

    assert (entry["level"], entry["order_id"]) == ("WARN", "ord-f4")
    assert "exception" not in entry, "a simulated failure is expected: no traceback to pay for"


def test_the_dlq_processor_writes_one_info_line_per_order_and_an_error_for_garbage(
    env: Tables, capsys: pytest.CaptureFixture[str]
) -> None:
    for order_id in ("ord-d1", "ord-d2"):
        seed_order(env.orders, order_id, PENDING, fulfillment_attempts=3)
    event = sqs_event(
        sqs_record("msg-d1", order_message("ord-d1"), 3),
        sqs_record("msg-d2", order_message("ord-d2"), 3),
        sqs_record("msg-junk", "not a message", 3),
    )

    entries = run_logged(capsys, lambda: dlq_processor.handler(event, None))

    assert info_lines_per_order(entries) == Counter({"ord-d1": 1, "ord-d2": 1})
    assert [entry["level"] for entry in entries if "order_id" not in entry] == ["ERROR"]


# --- the reconciler -----------------------------------------------------------------------------


def test_the_reconciler_writes_one_info_line_per_order_it_drives_on_and_one_summary(
    env: Tables, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_order(env.orders, "ord-r1", OrderStatus.RECEIVED.value)
    seed_order(env.orders, "ord-r2", PENDING)
    seed_order(env.orders, "ord-r3", PENDING)

    entries = run_logged(capsys, lambda: reconciler.handler({}, None))

    assert info_lines_per_order(entries) == Counter({"ord-r1": 1, "ord-r2": 1, "ord-r3": 1, None: 1})


def test_an_idle_reconciler_run_writes_nothing_at_info(
    env: Tables, capsys: pytest.CaptureFixture[str]
) -> None:
    entries = run_logged(capsys, lambda: reconciler.handler({}, None))

    assert info_lines_per_order(entries) == Counter()
    assert [entry["message"] for entry in entries] == ["reconciliation finished"]


def test_a_reconciler_run_behind_a_backlog_mentions_it_once_at_debug(
    env: Tables, order_queue_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_order(env.orders, "ord-r4", PENDING)
    boto3.client("sqs").send_message(QueueUrl=order_queue_url, MessageBody=order_message("ord-other"))

    entries = run_logged(capsys, lambda: reconciler.handler({}, None))

    assert [(entry["level"], entry["message"]) for entry in entries] == [
        ("DEBUG", "order queue has a backlog; pending orders wait for it to drain"),
        ("INFO", "reconciliation finished"),
    ]
    assert entries[-1]["deferred"] == 1
