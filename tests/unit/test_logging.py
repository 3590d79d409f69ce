"""Every handler's stdout is JSON lines, and the lines about an order carry its order_id."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from handlers import api_handler, dlq_processor, fulfill_order, order_storage, reconciler, validator
from handlers.models import OrderStatus
from handlers.order_intake import order_id_for
from tests.unit.conftest import Tables
from tests.unit.support import (
    api_event,
    fixture_text,
    get_item,
    handler_loggers_at,
    log_lines,
    order_message,
    response_json,
    seed_order,
    sqs_event,
    sqs_record,
)

PENDING = OrderStatus.PENDING_FULFILLMENT.value


@pytest.fixture(autouse=True)
def _info_level() -> Iterator[None]:
    """The loggers were made at import under whatever LOG_LEVEL was set; these tests read INFO."""
    with handler_loggers_at(logging.INFO):
        yield


@pytest.fixture
def env(tables: Tables, state_machine_arn: str) -> Tables:
    """Tables, a state machine and the handlers' environment."""
    return tables


def entries(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """Everything written to stdout since the last read; every line must be a JSON object."""
    found = log_lines(capsys.readouterr().out)
    assert found, "the handler logged nothing"
    return found


def assert_about(found: list[dict[str, Any]], service: str, order_id: str) -> None:
    for entry in found:
        assert entry["service"] == service, entry
        assert entry["order_id"] == order_id, entry


def post(body: str, key: str | None = None) -> dict[str, Any]:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return api_handler.handler(api_event("POST", "/order", body, headers), None)


def test_an_accepted_order_is_logged_with_its_id(
    env: Tables, valid_order_text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()

    response = post(valid_order_text)

    order_id = response_json(response)["order_id"]
    found = entries(capsys)
    assert [entry["message"] for entry in found] == ["order accepted"]
    assert_about(found, "api_handler", order_id)


def test_the_validator_logs_the_order_id(valid_order_text: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()

    validator.handler({"order_id": "ord-v", "request_body": valid_order_text}, None)

    found = entries(capsys)
    assert [entry["message"] for entry in found] == ["order validated"]
    assert_about(found, "validator", "ord-v")
    assert found[0]["valid"] is True


def test_order_storage_logs_the_order_id(
    env: Tables, valid_order_text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_order(env.orders, "ord-s", OrderStatus.RECEIVED.value)
    outcome = validator.handler({"order_id": "ord-s", "request_body": valid_order_text}, None)
    capsys.readouterr()

    order_storage.handler(
        {"operation": "store_validated", "order_id": "ord-s", "order": outcome["order"]}, None
    )

    found = entries(capsys)
    assert [entry["message"] for entry in found] == ["order stored"]
    assert_about(found, "order_storage", "ord-s")
    assert found[0]["status"] == PENDING


@pytest.mark.parametrize(
    "case",
    [("1", "order fulfillment processed", "INFO"), ("0", "message not processed", "WARN")],
    ids=["success", "failure"],
)
def test_fulfillment_logs_the_order_id(
    env: Tables,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    case: tuple[str, str, str],
) -> None:
    rate, message, level = case
    monkeypatch.setenv("FULFILLMENT_SUCCESS_RATE", rate)
    seed_order(env.orders, "ord-f", PENDING)
    capsys.readouterr()

    fulfill_order.handler(sqs_event(sqs_record("msg-f", order_message("ord-f"))), None)

    found = entries(capsys)
    assert [(entry["message"], entry["level"]) for entry in found] == [(message, level)]
    assert_about(found, "fulfill_order", "ord-f")
    assert found[0]["message_id"] == "msg-f"


def test_a_message_for_an_unknown_order_is_logged_with_that_order_id(
    env: Tables, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()

    fulfill_order.handler(sqs_event(sqs_record("msg-ghost", order_message("ord-ghost"))), None)

    assert_about(entries(capsys), "fulfill_order", "ord-ghost")


def test_the_dlq_processor_logs_the_order_id(env: Tables, capsys: pytest.CaptureFixture[str]) -> None:
    seed_order(env.orders, "ord-d", PENDING, fulfillment_attempts=3)
    capsys.readouterr()

    dlq_processor.handler(sqs_event(sqs_record("msg-d", order_message("ord-d"), 3)), None)

    found = entries(capsys)
    assert [entry["message"] for entry in found] == ["dead letter processed"]
    assert_about(found, "dlq_processor", "ord-d")
    assert found[0]["status"] == "FULFILLMENT_FAILED"


def test_the_reconciler_logs_each_order_it_acts_on_and_a_summary(
    env: Tables, order_queue_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in {
        "RECONCILE_RECEIVED_AFTER_SECONDS": "60",
        "RECONCILE_PENDING_AFTER_SECONDS": "600",
        "RECONCILE_MAX_ATTEMPTS": "3",
    }.items():
        monkeypatch.setenv(name, value)
    seed_order(env.orders, "ord-r1", OrderStatus.RECEIVED.value)
    seed_order(env.orders, "ord-r2", PENDING)
    no_body = seed_order(env.orders, "ord-r3", OrderStatus.RECEIVED.value)
    del no_body["request_body"]
    env.orders.put_item(Item=no_body)
    capsys.readouterr()

    reconciler.handler({}, None)

    found = entries(capsys)
    assert all(entry["service"] == "reconciler" for entry in found)
    reconciled = {e["order_id"]: e for e in found if e["message"] == "order reconciled"}
    assert {order_id: e["action"] for order_id, e in reconciled.items()} == {
        "ord-r1": "started",
        "ord-r2": "enqueued",
    }
    (failure,) = [e for e in found if e["message"] == "order not reconciled; the next run tries again"]
    assert failure["level"] == "WARN"
    assert failure["order_id"] == "ord-r3"
    assert "KeyError" in failure["error"]
    (summary,) = [e for e in found if e["message"] == "reconciliation finished"]
    assert (summary["started"], summary["enqueued"], summary["error"]) == (1, 1, 1)
    assert "order_id" not in summary


# --- refused requests -----------------------------------------------------------------------


def refusals(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [entry for entry in entries(capsys) if entry["message"] == "request refused"]


def test_a_refused_lookup_of_an_unknown_order_names_it(
    env: Tables, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = "00000000-0000-4000-8000-0000000000ff"
    capsys.readouterr()

    api_handler.handler(api_event("GET", f"/orders/{missing}", None, content_type=None), None)

    (entry,) = refusals(capsys)
    assert entry["status"] == 404
    assert entry["path"] == f"/orders/{missing}"
    assert_about([entry], "api_handler", missing)


def test_a_reused_idempotency_key_is_refused_naming_the_keys_order(
    env: Tables, valid_order_text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    post(valid_order_text, key="reused-key")
    capsys.readouterr()

    post(valid_order_text.replace('"quantity": 2', '"quantity": 3'), key="reused-key")

    (entry,) = refusals(capsys)
    assert entry["status"] == 409
    assert_about([entry], "api_handler", order_id_for("reused-key"))


@pytest.mark.parametrize("key", [None, "start-key"], ids=["unkeyed", "keyed"])
def test_a_workflow_that_cannot_start_is_accepted_with_a_warning_naming_the_order(
    env: Tables,
    state_machine_arn: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    key: str | None,
) -> None:
    monkeypatch.setenv("STEP_FUNCTION_ARN", state_machine_arn.rsplit(":", 1)[0] + ":dofs-no-such-machine")
    capsys.readouterr()

    response = post(fixture_text("valid_order.json"), key=key)

    assert response["statusCode"] == 202
    order_id = response_json(response)["order_id"]
    found = entries(capsys)
    assert [(e["message"], e["level"]) for e in found] == [
        ("workflow not started; the reconciler will start it", "WARN"),
        ("order accepted", "INFO"),
    ]
    assert_about(found, "api_handler", order_id)
    assert "StartExecution failed" in found[0]["error"]
    if key is not None:
        assert order_id == order_id_for(key)
    assert get_item(env.orders, order_id) is not None


def test_an_order_refused_for_its_shape_is_logged_without_an_order_id(
    env: Tables, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()

    post(fixture_text("invalid_order_missing_customer.json"), key="shape-key")

    (entry,) = refusals(capsys)
    assert entry["status"] == 422
    assert entry["service"] == "api_handler"
    assert "order_id" not in entry, "nothing was stored, so no order exists to name"


def test_a_refusal_about_no_order_carries_no_order_id(
    env: Tables, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()

    api_handler.handler(
        api_event("POST", "/order", fixture_text("valid_order.json"), content_type=None), None
    )

    (entry,) = refusals(capsys)
    assert entry["status"] == 415
    assert entry["service"] == "api_handler"
    assert "order_id" not in entry


def test_a_refused_invalid_event_is_logged_as_json(env: Tables, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()

    api_handler.handler({"headers": ["not", "a", "mapping"]}, None)

    (entry,) = refusals(capsys)
    assert entry["status"] == 400
    assert entry.get("path") is None  # Powertools leaves out a field whose value is None


def test_every_api_line_carries_api_gateways_request_id_and_only_during_its_request(
    env: Tables, valid_order_text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    event = api_event("POST", "/order", valid_order_text)
    event["requestContext"]["requestId"] = "req-accepted"
    api_handler.handler(event, None)
    refused = api_event("POST", "/order", valid_order_text, content_type=None)
    refused["requestContext"]["requestId"] = "req-refused"
    api_handler.handler(refused, None)
    validator.handler({"order_id": "ord-v", "request_body": valid_order_text}, None)

    found = entries(capsys)
    assert [(entry["message"], entry.get("correlation_id")) for entry in found] == [
        ("order accepted", "req-accepted"),
        ("request refused", "req-refused"),
        ("order validated", None),
    ]
