"""api_handler λ: routing, structural checks, idempotent intake and error translation."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

from handlers import api_handler, aws, order_storage, validator
from handlers.errors import DofsError, OrderTooLargeError, TransientStorageError
from handlers.http import ApiError, parse_event
from handlers.models import execution_arn_of, parse_json_decimal
from handlers.order_intake import IntakeDeadlines, OrderIntakeService, WorkflowStarter, order_id_for
from handlers.repository import OrderRepository
from tests.unit.conftest import Tables
from tests.unit.support import (
    ORDERS_TABLE,
    FailingResource,
    api_event,
    client_error,
    fail_dynamodb,
    fixture_data,
    fixture_text,
    get_item,
    json_text,
    logged,
    response_json,
    scan_all,
    seed_order,
)

DOMAIN = fixture_data("api_post_order_event.json")["requestContext"]["domainName"]
STAGE = fixture_data("api_post_order_event.json")["requestContext"]["stage"]
# handler_env's ORDER_DUE_SECONDS and RECONCILE_RECEIVED_AFTER_SECONDS.
DEADLINES = IntakeDeadlines(order_due=timedelta(seconds=900), restart_after=timedelta(seconds=60))


@pytest.fixture
def api(tables: Tables, state_machine_arn: str) -> Tables:
    return tables


def call(event: dict[str, Any]) -> dict[str, Any]:
    return api_handler.handler(event, None)


def post(
    body: str | None,
    key: str | None = None,
    path: str = "/order",
    content_type: str | None = "application/json",
    header_name: str = "Idempotency-Key",
) -> dict[str, Any]:
    headers = {header_name: key} if key is not None else {}
    return call(api_event("POST", path, body, headers, content_type=content_type))


def get(path: str) -> dict[str, Any]:
    return call(api_event("GET", path, None, content_type=None))


def executions(state_machine_arn: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = boto3.client("stepfunctions").list_executions(
        stateMachineArn=state_machine_arn
    )["executions"]
    return found


def assert_error(response: dict[str, Any], status: int, code: str) -> dict[str, Any]:
    assert response["statusCode"] == status, response
    body: dict[str, Any] = response_json(response)
    assert body["error"] == code, body
    assert isinstance(body["message"], str) and body["message"].strip(), body
    return body


def accepted(response: dict[str, Any]) -> dict[str, Any]:
    assert response["statusCode"] == 202, response
    body: dict[str, Any] = response_json(response)
    return body


# --- health ---------------------------------------------------------------------------------


def test_health_answers_healthy(api: Tables) -> None:
    response = get("/health")

    assert response["statusCode"] == 200
    body = response_json(response)
    assert body["status"] == "healthy"
    assert body["environment"] == "test"


# --- accepting an order ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/order", "/orders"])
def test_posting_an_order_records_it_and_starts_its_workflow(
    api: Tables, state_machine_arn: str, valid_order_text: str, path: str
) -> None:
    response = post(valid_order_text, path=path)

    body = accepted(response)
    order_id = body["order_id"]
    assert body["status"] == "RECEIVED"
    assert body["status_url"].startswith(f"https://{DOMAIN}/{STAGE}/")
    assert body["status_url"].endswith(f"/orders/{order_id}")
    assert response["headers"]["Location"] == body["status_url"]

    item = get_item(api.orders, order_id)
    assert item is not None
    assert item["status"] == "RECEIVED"
    assert item["request_body"] == valid_order_text
    assert "execution_arn" not in item  # one write per order: the ARN is only in the answer
    assert body["execution_arn"] == execution_arn_of(state_machine_arn, order_id)

    (execution,) = executions(state_machine_arn)
    assert execution["name"] == order_id
    assert execution["executionArn"] == body["execution_arn"]
    started = boto3.client("stepfunctions").describe_execution(executionArn=body["execution_arn"])
    assert json.loads(started["input"]) == {"order_id": order_id, "request_body": valid_order_text}


def test_orders_without_a_key_get_distinct_ids(
    api: Tables, state_machine_arn: str, valid_order_text: str
) -> None:
    first = accepted(post(valid_order_text))
    second = accepted(post(valid_order_text))

    assert first["order_id"] != second["order_id"]
    assert len(executions(state_machine_arn)) == 2
    assert len(scan_all(api.orders)) == 2


def test_the_api_accepts_an_order_the_workflow_will_reject(api: Tables, state_machine_arn: str) -> None:
    # Rules across fields are the workflow's job: the API answers fast, the rejection comes later.
    body = accepted(post(fixture_text("order_with_wrong_total.json")))

    assert body["status"] == "RECEIVED"
    item = get_item(api.orders, body["order_id"])
    assert item is not None
    assert item["request_body"] == fixture_text("order_with_wrong_total.json")
    (execution,) = executions(state_machine_arn)
    assert execution["executionArn"] == body["execution_arn"]


def test_an_order_missing_its_customer_is_a_422_naming_it_and_stores_nothing(
    api: Tables, state_machine_arn: str
) -> None:
    response = post(fixture_text("invalid_order_missing_customer.json"))

    body = assert_error(response, 422, "invalid_order")
    assert body["problems"] == ["customer_id: is required"]
    assert "customer_id" in body["message"]
    assert scan_all(api.orders) == []
    assert executions(state_machine_arn) == []


def test_a_422_lists_every_problem_of_the_order(api: Tables, state_machine_arn: str) -> None:
    order = fixture_data("valid_order.json")
    order["customer_id"] = ""
    order["items"][1]["quantity"] = 0
    order["shipping_address"]["country"] = "\u0007"
    order["coupon"] = "FREE"

    body = assert_error(post(json_text(order)), 422, "invalid_order")

    assert sorted(problem.split(":")[0] for problem in body["problems"]) == [
        "coupon",
        "customer_id",
        "items[1].quantity",
        "shipping_address.country",
    ]
    assert all(problem in body["message"] for problem in body["problems"])
    assert scan_all(api.orders) == []
    assert executions(state_machine_arn) == []


def test_a_422_lists_at_most_fifty_problems_and_counts_the_rest(api: Tables) -> None:
    order = fixture_data("valid_order.json")
    order["items"] = [{"product_id": "", "quantity": 0, "price": Decimal("-1")}] * 30

    body = assert_error(post(json_text(order)), 422, "invalid_order")

    assert len(body["problems"]) == api_handler.MAX_PROBLEMS_LISTED + 1
    assert body["problems"][-1] == f"... and {90 - api_handler.MAX_PROBLEMS_LISTED} more"
    assert scan_all(api.orders) == []


@pytest.mark.parametrize(
    "text",
    [r"cust\u0000123", r"cust\ud800", r"cust\u0378"],
    ids=["NUL", "lone surrogate", "unassigned code point"],
)
def test_text_with_characters_no_name_contains_is_a_422(
    api: Tables, state_machine_arn: str, text: str
) -> None:
    # Written as JSON escapes, the way a client can send them.
    body_text = fixture_text("valid_order.json").replace('"cust_123"', f'"{text}"')
    assert body_text != fixture_text("valid_order.json")

    body = assert_error(post(body_text), 422, "invalid_order")

    (problem,) = body["problems"]
    assert problem.startswith("customer_id: ")
    assert scan_all(api.orders) == []
    assert executions(state_machine_arn) == []


def test_a_key_named_twice_in_one_object_is_a_400_and_stores_nothing(
    api: Tables, state_machine_arn: str
) -> None:
    # Parsers disagree on which value wins; the API refuses to guess.
    body_text = fixture_text("valid_order.json").replace(
        '"customer_id": "cust_123",', '"customer_id": "cust_123", "customer_id": "cust_999",'
    )
    assert body_text.count('"customer_id"') == 2

    body = assert_error(post(body_text), 400, "invalid_json")

    assert "customer_id" in body["message"]
    assert scan_all(api.orders) == []
    assert executions(state_machine_arn) == []


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "Application/JSON", "application/vnd.dofs+json"]
)
def test_json_content_types_are_accepted(api: Tables, valid_order_text: str, content_type: str) -> None:
    accepted(post(valid_order_text, content_type=content_type))


def test_a_base64_encoded_body_is_decoded(api: Tables, valid_order_text: str) -> None:
    event = api_event("POST", "/order", base64_body=valid_order_text.encode("utf-8"))

    body = accepted(call(event))

    item = get_item(api.orders, body["order_id"])
    assert item is not None
    assert item["request_body"] == valid_order_text


# --- reading an order -----------------------------------------------------------------------


def test_get_order_shows_a_received_order(api: Tables, valid_order_text: str) -> None:
    created = accepted(post(valid_order_text))

    response = get(f"/orders/{created['order_id']}")

    assert response["statusCode"] == 200
    view = response_json(response)
    assert view["order_id"] == created["order_id"]
    assert view["status"] == "RECEIVED"
    assert "execution_arn" not in view
    assert view["fulfillment_attempts"] == 0


def _run_validation_and_storage(order_id: str, request_body: str) -> dict[str, Any]:
    """What the workflow does with a stored order: validate it, then record the outcome."""
    outcome = validator.handler({"order_id": order_id, "request_body": request_body}, None)
    if outcome["valid"]:
        event = {"operation": "store_validated", "order_id": order_id, "order": outcome["order"]}
    else:
        event = {"operation": "record_rejection", "order_id": order_id, "reasons": outcome["reasons"]}
    order_storage.handler(event, None)
    return outcome


def test_get_order_shows_why_a_rejected_order_was_rejected(api: Tables) -> None:
    created = accepted(post(fixture_text("order_with_wrong_total.json")))
    stored = get_item(api.orders, created["order_id"])
    assert stored is not None
    outcome = _run_validation_and_storage(created["order_id"], stored["request_body"])

    view = response_json(get(f"/orders/{created['order_id']}"))

    assert view["status"] == "REJECTED"
    assert view["failure"]["stage"] == "validation"
    assert view["failure"]["reasons"] == outcome["reasons"]
    (reason,) = view["failure"]["reasons"]
    assert reason.startswith("total_amount")
    assert "60.08" in reason


def test_get_order_shows_a_validated_order_with_money_as_exact_strings(
    api: Tables, valid_order_text: str
) -> None:
    created = accepted(post(valid_order_text))
    _run_validation_and_storage(created["order_id"], valid_order_text)

    view = response_json(get(f"/orders/{created['order_id']}"))

    assert view["status"] == "PENDING_FULFILLMENT"
    assert view["customer_id"] == "cust_123"
    assert view["total_amount"] == "60.08"
    assert [(line["product_id"], line["quantity"]) for line in view["items"]] == [
        ("prod_001", 2),
        ("prod_002", 1),
    ]
    assert view["items"][0]["price"] == "29.99"
    assert all(isinstance(line["price"], str) for line in view["items"])
    assert "validated_at" in view
    assert "request_body" not in view


def test_an_unknown_order_id_is_a_json_404(api: Tables) -> None:
    missing = "00000000-0000-4000-8000-0000000000ff"

    body = assert_error(get(f"/orders/{missing}"), 404, "order_not_found")

    assert body["order_id"] == missing


@pytest.mark.parametrize("order_id", ["bad_id", "abc.def", "x" * 65, "%20"])
def test_a_malformed_order_id_is_a_400(api: Tables, order_id: str) -> None:
    assert_error(get(f"/orders/{order_id}"), 400, "invalid_order_id")


# --- routing --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/nope", "/orders/a/b", "/health/extra", "/order/123"])
def test_an_unknown_route_is_a_json_404(api: Tables, path: str) -> None:
    assert_error(get(path), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/order", "POST"),
        ("GET", "/order", "POST"),
        ("PUT", "/orders", "POST"),
        ("POST", "/health", "GET"),
        ("DELETE", "/orders/abc-123", "GET"),
    ],
)
def test_a_wrong_method_is_a_405_with_allow(api: Tables, method: str, path: str, allow: str) -> None:
    response = call(api_event(method, path, None))

    assert_error(response, 405, "method_not_allowed")
    assert response["headers"]["Allow"] == allow


# --- refusing bodies ------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_non_json_content_type_is_a_415(
    api: Tables, state_machine_arn: str, valid_order_text: str, content_type: str | None
) -> None:
    assert_error(post(valid_order_text, content_type=content_type), 415, "unsupported_media_type")
    assert scan_all(api.orders) == []
    assert executions(state_machine_arn) == []


BAD_BODIES: dict[str, tuple[str | None, str]] = {
    "no body": (None, "empty_body"),
    "empty body": ("", "empty_body"),
    "blank body": ("  \n ", "empty_body"),
    "invalid JSON": ('{"customer_id": ', "invalid_json"),
    "JSON array": ("[]", "invalid_order"),
    "JSON array of orders": (f"[{fixture_text('valid_order.json')}]", "invalid_order"),
    "JSON string": ('"order"', "invalid_order"),
    "JSON null": ("null", "invalid_order"),
    "NaN": ("NaN", "invalid_json"),
    "NaN inside": ('{"total_amount": NaN}', "invalid_json"),
    "Infinity inside": ('{"total_amount": Infinity}', "invalid_json"),
    "deep nesting": ('{"a": ' + "[" * 5_000 + "]" * 5_000 + "}", "invalid_json"),
}


@pytest.mark.parametrize(("body", "code"), list(BAD_BODIES.values()), ids=list(BAD_BODIES))
def test_a_body_that_is_not_a_json_object_is_a_400(
    api: Tables, state_machine_arn: str, body: str | None, code: str
) -> None:
    assert_error(post(body), 400, code)
    assert scan_all(api.orders) == []
    assert executions(state_machine_arn) == []


def test_invalid_utf8_is_a_400(api: Tables) -> None:
    event = api_event("POST", "/order", base64_body=b'{"customer_id": "\xff\xfe"}')

    assert_error(call(event), 400, "invalid_encoding")
    assert scan_all(api.orders) == []


def test_invalid_base64_is_a_400(api: Tables) -> None:
    event = api_event("POST", "/order", "{}")
    event["isBase64Encoded"] = True
    event["body"] = "!!not base64!!"

    assert_error(call(event), 400, "invalid_body")


def _body_of_size(size: int, filler: str = "x") -> str:
    text = '{"pad": ""}'
    padding = (size - len(text.encode("utf-8"))) // len(filler.encode("utf-8"))
    body = '{"pad": "' + filler * padding + '"}'
    assert len(body.encode("utf-8")) == size
    return body


def _valid_order_of_size(size: int) -> str:
    """The valid fixture order, padded with trailing whitespace (still the same JSON) to ``size`` bytes."""
    order = fixture_text("valid_order.json")
    body = order + " " * (size - len(order.encode("utf-8")))
    assert len(body.encode("utf-8")) == size
    return body


def test_a_body_over_the_limit_is_a_413_and_one_at_the_limit_is_accepted(
    api: Tables, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_ORDER_BODY_BYTES", "512")

    assert_error(post(_valid_order_of_size(513)), 413, "body_too_large")
    assert scan_all(api.orders) == []
    accepted(post(_valid_order_of_size(512)))
    assert len(scan_all(api.orders)) == 1


def test_the_size_limit_is_checked_before_the_order_shape(
    api: Tables, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_ORDER_BODY_BYTES", "512")

    assert_error(post(_body_of_size(513)), 413, "body_too_large")
    assert_error(post(_body_of_size(512)), 422, "invalid_order")


def test_the_size_limit_counts_bytes_not_characters(api: Tables, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_ORDER_BODY_BYTES", "512")
    body = _body_of_size(513, filler="é")
    assert len(body) < 512

    assert_error(post(body), 413, "body_too_large")


def test_the_default_size_limit_applies_without_configuration(api: Tables) -> None:
    assert_error(post(_body_of_size(32 * 1024 + 2)), 413, "body_too_large")


# --- idempotency ----------------------------------------------------------------------------


def test_the_same_key_and_body_twice_is_one_order_and_one_execution(
    api: Tables, state_machine_arn: str, valid_order_text: str
) -> None:
    first = accepted(post(valid_order_text, key="order-key-1"))
    second = accepted(post(valid_order_text, key="order-key-1"))

    assert second["order_id"] == first["order_id"]
    assert second["execution_arn"] == first["execution_arn"]
    assert len(executions(state_machine_arn)) == 1
    assert len(scan_all(api.orders)) == 1


REORDERED_VALID_ORDER = (
    '{"shipping_address": {"zip": "12345", "state": "CA", "city": "Anytown", "street": "123 Main St"},\n'
    '  "total_amount":60.08, "items":[{"price":29.99,"quantity":2,"product_id":"prod_001"},\n'
    '    {"price": 0.10, "product_id": "prod_002", "quantity": 1}],   "customer_id" : "cust_123"}'
)


def test_the_same_key_with_reordered_keys_and_whitespace_is_the_same_order(
    api: Tables, state_machine_arn: str, valid_order_text: str
) -> None:
    assert valid_order_text != REORDERED_VALID_ORDER
    assert parse_json_decimal(REORDERED_VALID_ORDER) == parse_json_decimal(valid_order_text)

    first = accepted(post(valid_order_text, key="order-key-2"))
    second = accepted(post(REORDERED_VALID_ORDER, key="order-key-2", header_name="idempotency-key"))

    assert second["order_id"] == first["order_id"]
    assert len(executions(state_machine_arn)) == 1
    item = get_item(api.orders, first["order_id"])
    assert item is not None
    assert item["request_body"] == valid_order_text


def test_the_same_key_with_a_different_body_is_a_409(
    api: Tables, state_machine_arn: str, valid_order_text: str
) -> None:
    first = accepted(post(valid_order_text, key="order-key-3"))
    changed = valid_order_text.replace('"quantity": 2', '"quantity": 3')
    assert changed != valid_order_text

    assert_error(post(changed, key="order-key-3"), 409, "idempotency_key_reused")
    item = get_item(api.orders, first["order_id"])
    assert item is not None
    assert item["request_body"] == valid_order_text
    assert len(executions(state_machine_arn)) == 1


def test_the_same_key_with_a_number_written_differently_is_a_different_body(
    api: Tables, valid_order_text: str
) -> None:
    accepted(post(valid_order_text, key="order-key-4"))

    assert_error(
        post(valid_order_text.replace("29.99", "29.990"), key="order-key-4"), 409, "idempotency_key_reused"
    )


@pytest.mark.parametrize(
    "key",
    ["has space", "k" * 300, "k" * 256, "", "clé", "tab\tkey"],
    ids=["space", "300", "256", "empty", "non-ascii", "tab"],
)
def test_an_invalid_idempotency_key_is_a_400(
    api: Tables, state_machine_arn: str, valid_order_text: str, key: str
) -> None:
    assert_error(post(valid_order_text, key=key), 400, "invalid_idempotency_key")
    assert scan_all(api.orders) == []
    assert executions(state_machine_arn) == []


def test_a_255_character_idempotency_key_is_accepted(api: Tables, valid_order_text: str) -> None:
    accepted(post(valid_order_text, key="k" * 255))


# --- when a dependency fails ----------------------------------------------------------------


def _use_missing_state_machine(state_machine_arn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEP_FUNCTION_ARN", state_machine_arn.rsplit(":", 1)[0] + ":dofs-no-such-machine")


def assert_recorded_but_not_started(api: Tables, body: dict[str, Any], request_body: str) -> dict[str, Any]:
    """The 202 of an order StartExecution refused: RECEIVED, no ARN, the record kept for the reconciler."""
    assert body["status"] == "RECEIVED"
    assert body["execution_arn"] is None
    item = get_item(api.orders, body["order_id"])
    assert item is not None
    assert item["status"] == "RECEIVED"
    assert item["request_body"] == request_body
    assert "execution_arn" not in item
    return item


def test_a_workflow_that_cannot_start_is_still_a_202_and_a_keyed_retry_completes_the_order(
    api: Tables, state_machine_arn: str, valid_order_text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use_missing_state_machine(state_machine_arn, monkeypatch)

    first = accepted(post(valid_order_text, key="retry-key"))

    order_id = first["order_id"]
    assert order_id == order_id_for("retry-key")
    assert_recorded_but_not_started(api, first, valid_order_text)
    assert executions(state_machine_arn) == []

    monkeypatch.setenv("STEP_FUNCTION_ARN", state_machine_arn)
    retried = accepted(post(valid_order_text, key="retry-key"))

    assert retried["order_id"] == order_id
    assert retried["status"] == "RECEIVED"
    (execution,) = executions(state_machine_arn)
    assert execution["name"] == order_id
    assert retried["execution_arn"] == execution["executionArn"]
    item = get_item(api.orders, order_id)
    assert item is not None
    assert item["status"] == "RECEIVED"
    assert len(scan_all(api.orders)) == 1


def test_an_unkeyed_order_whose_workflow_cannot_start_is_a_202_and_kept_for_the_reconciler(
    api: Tables,
    state_machine_arn: str,
    valid_order_text: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _use_missing_state_machine(state_machine_arn, monkeypatch)
    capsys.readouterr()

    response = post(valid_order_text)

    body = accepted(response)
    assert response["headers"]["Location"] == body["status_url"]
    assert_recorded_but_not_started(api, body, valid_order_text)
    assert executions(state_machine_arn) == []
    (warning,) = logged(capsys.readouterr().out, "workflow not started; the reconciler will start it")
    assert warning["level"] == "WARN"
    assert warning["order_id"] == body["order_id"]
    assert "StateMachineDoesNotExist" in warning["error"]


def test_get_order_shows_an_unstarted_order_as_received_without_an_execution(
    api: Tables, state_machine_arn: str, valid_order_text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use_missing_state_machine(state_machine_arn, monkeypatch)
    created = accepted(post(valid_order_text))

    view = response_json(get(f"/orders/{created['order_id']}"))

    assert view["status"] == "RECEIVED"
    assert "execution_arn" not in view


class FailingStepFunctions:
    """A Step Functions client whose StartExecution fails with ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def start_execution(self, **kwargs: Any) -> Any:
        raise self.error


UNREACHABLE = EndpointConnectionError(endpoint_url="https://states.ap-south-1.amazonaws.com")
READ_TIMEOUT = ReadTimeoutError(endpoint_url="https://states.ap-south-1.amazonaws.com")


@pytest.mark.parametrize(
    "error",
    [UNREACHABLE, READ_TIMEOUT, client_error("ServiceUnavailable", "StartExecution")],
    ids=["unreachable", "read timeout", "service unavailable"],
)
@pytest.mark.parametrize("key", [None, "broken-start"], ids=["unkeyed", "keyed"])
def test_any_failed_start_keeps_the_record_and_answers_202_without_an_execution(
    api: Tables, valid_order_text: str, monkeypatch: pytest.MonkeyPatch, error: Exception, key: str | None
) -> None:
    # Whether or not the request reached Step Functions, the record is the promise: the
    # reconciler starts the order (the execution name is the order id, so at most once).
    monkeypatch.setattr(aws, "stepfunctions_client", lambda: FailingStepFunctions(error))

    body = accepted(post(valid_order_text, key=key))

    assert_recorded_but_not_started(api, body, valid_order_text)
    assert [item["order_id"] for item in scan_all(api.orders)] == [body["order_id"]]


def test_a_retry_of_an_unkeyed_order_that_did_not_start_is_a_second_order(
    api: Tables, state_machine_arn: str, valid_order_text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without a key the API cannot tell a retry from a new order; both are kept.
    _use_missing_state_machine(state_machine_arn, monkeypatch)
    first = accepted(post(valid_order_text))
    monkeypatch.setenv("STEP_FUNCTION_ARN", state_machine_arn)

    second = accepted(post(valid_order_text))

    assert second["order_id"] != first["order_id"]
    assert sorted(item["order_id"] for item in scan_all(api.orders)) == sorted(
        [first["order_id"], second["order_id"]]
    )
    (execution,) = executions(state_machine_arn)
    assert execution["name"] == second["order_id"]


def test_starting_an_existing_execution_returns_its_arn(api: Tables, state_machine_arn: str) -> None:
    starter = WorkflowStarter(state_machine_arn, boto3.client("stepfunctions"))

    first = starter.start("ord-twice", "{}")
    second = starter.start("ord-twice", '{"changed": true}')

    assert second == first
    assert [e["executionArn"] for e in executions(state_machine_arn)] == [first]


@pytest.mark.parametrize(
    "error",
    [
        client_error("ProvisionedThroughputExceededException"),
        client_error("ThrottlingException"),
        client_error("RequestLimitExceeded"),
        EndpointConnectionError(endpoint_url="https://dynamodb.ap-south-1.amazonaws.com"),
    ],
    ids=["provisioned throughput", "throttling", "request limit", "unreachable"],
)
@pytest.mark.parametrize("request_kind", ["post", "get"])
def test_busy_storage_is_a_503_with_retry_after(
    api: Tables,
    valid_order_text: str,
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
    request_kind: str,
) -> None:
    monkeypatch.setattr(aws, "dynamodb_resource", lambda: FailingResource(error))

    response = post(valid_order_text) if request_kind == "post" else get("/orders/abc-123")

    assert_error(response, 503, "storage_unavailable")
    assert response["headers"]["Retry-After"]


def test_an_unexpected_storage_error_is_a_json_500(
    api: Tables, state_machine_arn: str, valid_order_text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_dynamodb(monkeypatch, "ValidationException")

    assert_error(post(valid_order_text), 500, "internal_error")
    assert executions(state_machine_arn) == []


def test_missing_configuration_is_a_json_500(
    api: Tables, valid_order_text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ORDERS_TABLE_NAME")

    assert_error(post(valid_order_text), 500, "internal_error")


def test_the_intake_service_translates_throttling_into_a_transient_error(
    api: Tables, state_machine_arn: str
) -> None:
    orders = OrderRepository(
        ORDERS_TABLE, FailingResource(client_error("ProvisionedThroughputExceededException"))
    )
    service = OrderIntakeService(
        orders, WorkflowStarter(state_machine_arn, boto3.client("stepfunctions")), DEADLINES
    )

    with pytest.raises(TransientStorageError):
        service.accept({"customer_id": "c"}, '{"customer_id": "c"}', "key-1")

    assert executions(state_machine_arn) == []


# --- the workflow input limit ---------------------------------------------------------------

STEP_FUNCTIONS_INPUT_LIMIT = 256 * 1024 - 1024  # 256 KiB, less 1 KiB of headroom
UUID_LENGTH = 36


def _workflow_input_bytes(body: str) -> int:
    """What StartExecution receives for ``body``, measured independently of the handler."""
    text = json.dumps(
        {"order_id": "0" * UUID_LENGTH, "request_body": body}, separators=(",", ":"), ensure_ascii=False
    )
    return len(text.encode("utf-8"))


def _body_with_workflow_input_of(size: int) -> str:
    """The valid order padded with newlines (escaped to two bytes each) and a space, to ``size`` exactly."""
    body = fixture_text("valid_order.json")
    missing = size - _workflow_input_bytes(body)
    body += "\n" * (missing // 2) + " " * (missing % 2)
    assert _workflow_input_bytes(body) == size
    return body


def test_an_order_whose_workflow_input_would_exceed_the_limit_is_a_413_and_stores_nothing(
    api: Tables, state_machine_arn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_ORDER_BODY_BYTES", "200000")
    # A valid order; each newline after it is 1 byte as sent and 2 once escaped into the input.
    body = fixture_text("valid_order.json") + "\n" * 140_000
    assert len(body.encode("utf-8")) < 200_000
    assert _workflow_input_bytes(body) > STEP_FUNCTIONS_INPUT_LIMIT

    response = post(body, key="too-big")

    error = assert_error(response, 413, "body_too_large")
    assert "too large to process" in error["message"]
    assert "escaping" in error["message"]
    assert scan_all(api.orders) == []
    assert executions(state_machine_arn) == []


def test_the_workflow_input_limit_is_exact(
    api: Tables, state_machine_arn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_ORDER_BODY_BYTES", "300000")
    at_limit = _body_with_workflow_input_of(STEP_FUNCTIONS_INPUT_LIMIT)

    assert_error(post(at_limit + " "), 413, "body_too_large")
    assert scan_all(api.orders) == []
    created = accepted(post(at_limit))

    started = boto3.client("stepfunctions").describe_execution(executionArn=created["execution_arn"])
    assert len(started["input"].encode("utf-8")) == STEP_FUNCTIONS_INPUT_LIMIT


def test_the_intake_service_measures_the_escaped_input_not_the_raw_body(
    api: Tables, state_machine_arn: str
) -> None:
    # 45,000 control characters: 45 kB as sent, six times that as "\u0001" in the input.
    raw_body = '{"note": "' + "\u0001" * 45_000 + '"}'
    assert len(raw_body.encode("utf-8")) < 65_536
    service = OrderIntakeService(
        api.order_repository(),
        WorkflowStarter(state_machine_arn, boto3.client("stepfunctions")),
        DEADLINES,
    )

    with pytest.raises(OrderTooLargeError) as raised:
        service.accept({"note": "\u0001" * 45_000}, raw_body, None)

    assert raised.value.input_bytes > STEP_FUNCTIONS_INPUT_LIMIT
    assert raised.value.limit_bytes == STEP_FUNCTIONS_INPUT_LIMIT
    assert scan_all(api.orders) == []
    assert executions(state_machine_arn) == []


# --- money read back ------------------------------------------------------------------------


def test_get_order_writes_money_read_back_from_dynamodb_with_two_decimals(api: Tables) -> None:
    # DynamoDB keeps numbers, not their spelling: 100.00 comes back as 100 and 0.10 as 0.1.
    seed_order(
        api.orders,
        "ord-cents",
        "PENDING_FULFILLMENT",
        customer_id="c",
        total_amount=Decimal("100"),
        items=[
            {"product_id": "a", "quantity": 1, "price": Decimal("99.9")},
            {"product_id": "b", "quantity": 1, "price": Decimal("0.1")},
            {"product_id": "c", "quantity": 1, "price": Decimal("0")},
        ],
    )

    view = response_json(get("/orders/ord-cents"))

    assert view["total_amount"] == "100.00"
    assert [line["price"] for line in view["items"]] == ["99.90", "0.10", "0.00"]


# --- events that are not API Gateway proxy events -------------------------------------------


def _event_with(**changes: Any) -> dict[str, Any]:
    event = api_event("GET", "/health", None, content_type=None)
    for name, value in changes.items():
        if value is ...:
            del event[name]
        else:
            event[name] = value
    return event


@pytest.mark.parametrize(
    "event",
    [
        _event_with(httpMethod=...),
        _event_with(httpMethod=7),
        _event_with(httpMethod=None),
        _event_with(httpMethod=""),
        _event_with(headers=["Content-Type", "application/json"]),
        _event_with(headers={"Content-Type": 5}),
        _event_with(body=12),
        _event_with(path=["/health"]),
        _event_with(requestContext="dev"),
        _event_with(pathParameters={"order_id": 5}),
    ],
    ids=[
        "no method",
        "numeric method",
        "null method",
        "empty method",
        "headers as a list",
        "numeric header",
        "numeric body",
        "path as a list",
        "context as a string",
        "numeric path parameter",
    ],
)
def test_a_structurally_invalid_event_is_a_json_400(api: Tables, event: dict[str, Any]) -> None:
    assert_error(call(event), 400, "invalid_event")


@pytest.mark.parametrize("event", [None, [], "GET /health", {}], ids=["null", "list", "string", "empty"])
def test_an_event_that_is_not_an_object_is_a_json_400(api: Tables, event: Any) -> None:
    assert_error(call(event), 400, "invalid_event")


def test_null_optional_fields_are_tolerated(api: Tables) -> None:
    event = _event_with(
        headers=None, body=None, pathParameters=None, isBase64Encoded=None, requestContext=None, resource=None
    )

    response = call(event)

    assert response["statusCode"] == 200
    assert response_json(response)["status"] == "healthy"


def test_unknown_event_fields_are_ignored(api: Tables, valid_order_text: str) -> None:
    event = api_event("POST", "/order", valid_order_text)
    event["version"] = "1.0"
    event["multiValueQueryStringParameters"] = {"a": ["1", "2"]}
    event["requestContext"]["identity"] = {"sourceIp": "203.0.113.7"}

    body = accepted(call(event))

    assert body["status_url"] == f"https://{DOMAIN}/{STAGE}/orders/{body['order_id']}"


def test_without_a_request_context_the_status_url_is_relative(api: Tables, valid_order_text: str) -> None:
    event = api_event("POST", "/order", valid_order_text)
    event["requestContext"] = None

    body = accepted(call(event))

    assert body["status_url"] == f"/orders/{body['order_id']}"


def test_a_null_header_value_is_as_if_absent(api: Tables, valid_order_text: str) -> None:
    event = api_event("POST", "/order", valid_order_text)
    event["headers"]["Idempotency-Key"] = None

    first = accepted(call(event))
    second = accepted(call(event))

    assert first["order_id"] != second["order_id"], "no key, so two distinct orders"


def test_the_parsed_request_carries_what_the_handler_uses(valid_order_text: str) -> None:
    event = api_event("post", "/orders/abc-1", valid_order_text, {"X-Custom": "v"})
    event["pathParameters"] = {"order_id": "abc-1"}

    request = parse_event(event)

    assert request.method == "POST"
    assert request.path == "/orders/abc-1"
    assert request.resource == "/orders/{order_id}"
    assert request.header("x-custom") == request.header("X-CUSTOM") == "v"
    assert request.body == valid_order_text.encode("utf-8")
    assert request.stage == STAGE
    assert request.domain_name == DOMAIN
    assert request.path_parameters == {"order_id": "abc-1"}


def test_api_errors_share_the_package_base_error() -> None:
    assert issubclass(ApiError, DofsError)
    with pytest.raises(DofsError):
        parse_event({"path": "/health"})


# --- storage errors by code -----------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "ResourceNotFoundException",
        "AccessDeniedException",
        "UnrecognizedClientException",
        "ValidationException",
        "ItemCollectionSizeLimitExceededException",
    ],
)
def test_a_storage_error_that_a_retry_cannot_fix_is_a_logged_500(
    api: Tables,
    state_machine_arn: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    code: str,
) -> None:
    fail_dynamodb(monkeypatch, code)

    assert_error(post(fixture_text("valid_order.json")), 500, "internal_error")

    configuration = code in {
        "ResourceNotFoundException",
        "AccessDeniedException",
        "UnrecognizedClientException",
    }
    (entry,) = logged(
        capsys.readouterr().out, "misconfigured function" if configuration else "storage request failed"
    )
    assert entry["level"] == "ERROR"
    assert code in entry["exception"]
    assert executions(state_machine_arn) == []
