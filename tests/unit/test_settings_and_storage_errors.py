"""settings and AWS error translation by code: misconfiguration names its cause, throttling is transient."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from handlers import aws, settings
from handlers.errors import ConfigurationError, DofsError, StorageError, TransientStorageError
from handlers.models import DUE_AT, FailureStage, OrderStatus
from handlers.order_shape import parse_order
from handlers.repository import FailedOrderRepository, OrderRepository
from tests.unit.conftest import Tables
from tests.unit.support import FailingResource, client_error, fixture_data


def test_require_names_the_missing_variable() -> None:
    with pytest.raises(ConfigurationError, match="ORDERS_TABLE_NAME"):
        settings.require(settings.ORDERS_TABLE_NAME, {"ORDERS_TABLE_NAME": "   "})
    assert settings.require(settings.ORDERS_TABLE_NAME, {"ORDERS_TABLE_NAME": " t "}) == "t"


@pytest.mark.parametrize(("raw", "expected"), [("0", Decimal(0)), ("1", Decimal(1)), ("0.7", Decimal("0.7"))])
def test_success_rate_is_read_exactly(raw: str, expected: Decimal) -> None:
    assert settings.success_rate({"FULFILLMENT_SUCCESS_RATE": raw}) == expected


def test_success_rate_defaults_to_seventy_percent() -> None:
    assert settings.success_rate({}) == Decimal("0.7")


@pytest.mark.parametrize("raw", ["1.5", "-0.1", "seventy", "", "Infinity", "NaN", "sNaN"])
def test_an_invalid_success_rate_names_the_variable(raw: str) -> None:
    with pytest.raises(ConfigurationError, match="FULFILLMENT_SUCCESS_RATE"):
        settings.success_rate({"FULFILLMENT_SUCCESS_RATE": raw})


def test_optional_int_reads_defaults_and_names_bad_values() -> None:
    assert settings.optional_int("MAX_ORDER_BODY_BYTES", 7, {}) == 7
    assert settings.optional_int("MAX_ORDER_BODY_BYTES", 7, {"MAX_ORDER_BODY_BYTES": " 512 "}) == 512
    with pytest.raises(ConfigurationError, match="MAX_ORDER_BODY_BYTES"):
        settings.optional_int("MAX_ORDER_BODY_BYTES", 7, {"MAX_ORDER_BODY_BYTES": "lots"})


@pytest.mark.parametrize("code", sorted(aws.THROTTLING_ERROR_CODES))
def test_throttling_codes_become_transient_errors(code: str) -> None:
    assert isinstance(aws.translate_storage_error(client_error(code)), TransientStorageError)


@pytest.mark.parametrize(
    "error",
    [
        EndpointConnectionError(endpoint_url="https://dynamodb.ap-south-1.amazonaws.com"),
        ReadTimeoutError(endpoint_url="https://dynamodb.ap-south-1.amazonaws.com"),
    ],
)
def test_connection_failures_become_transient_errors(error: Exception) -> None:
    assert isinstance(aws.translate_storage_error(error), TransientStorageError)


@pytest.mark.parametrize("code", sorted(aws.CONFIGURATION_ERROR_CODES))
def test_a_missing_table_or_refused_credentials_is_a_configuration_error_naming_the_code(code: str) -> None:
    translated = aws.translate_storage_error(client_error(code))

    assert type(translated) is ConfigurationError
    assert code in str(translated)
    assert "permissions" in str(translated)


@pytest.mark.parametrize(
    "code", ["ValidationException", "ItemCollectionSizeLimitExceededException", "SerializationException", ""]
)
def test_other_error_codes_are_storage_errors_naming_the_code(code: str) -> None:
    translated = aws.translate_storage_error(client_error(code))

    assert type(translated) is StorageError
    assert isinstance(translated, DofsError)
    assert (code or "no error code") in str(translated)


def test_an_unlisted_5xx_answer_is_transient() -> None:
    error = ClientError(
        {"Error": {"Code": "InternalFailure"}, "ResponseMetadata": {"HTTPStatusCode": 503}}, "PutItem"
    )

    assert isinstance(aws.translate_storage_error(error), TransientStorageError)


def test_a_4xx_answer_with_an_unknown_code_is_not_transient() -> None:
    error = ClientError(
        {"Error": {"Code": "SomethingNew"}, "ResponseMetadata": {"HTTPStatusCode": 400}}, "PutItem"
    )

    assert type(aws.translate_storage_error(error)) is StorageError


def test_repositories_raise_the_translated_error_from_the_aws_one() -> None:
    orders = OrderRepository("orders", FailingResource(client_error("ResourceNotFoundException")))

    with pytest.raises(ConfigurationError) as raised:
        orders.get("o-1")

    assert isinstance(raised.value.__cause__, ClientError)


def test_positive_int_reads_a_positive_integer() -> None:
    assert settings.positive_int("RECONCILE_MAX_ATTEMPTS", {"RECONCILE_MAX_ATTEMPTS": " 3 "}) == 3
    assert settings.positive_int("RECONCILE_MAX_ATTEMPTS", {"RECONCILE_MAX_ATTEMPTS": "1"}) == 1


@pytest.mark.parametrize("raw", [None, "", "  ", "0", "-5", "1.5", "three"])
def test_positive_int_is_required_and_names_the_variable(raw: str | None) -> None:
    environ = {} if raw is None else {"RECONCILE_PENDING_AFTER_SECONDS": raw}

    with pytest.raises(ConfigurationError, match="RECONCILE_PENDING_AFTER_SECONDS"):
        settings.positive_int("RECONCILE_PENDING_AFTER_SECONDS", environ)


def test_seconds_reads_a_deadline_as_a_timedelta_and_names_a_bad_one() -> None:
    environ = {"RECONCILE_RECEIVED_AFTER_SECONDS": "90"}
    assert settings.seconds("RECONCILE_RECEIVED_AFTER_SECONDS", environ) == timedelta(seconds=90)

    with pytest.raises(ConfigurationError, match="RECONCILE_RECEIVED_AFTER_SECONDS"):
        settings.seconds("RECONCILE_RECEIVED_AFTER_SECONDS", {"RECONCILE_RECEIVED_AFTER_SECONDS": "0"})


def test_the_order_queue_url_is_required_by_name() -> None:
    with pytest.raises(ConfigurationError, match="ORDER_QUEUE_URL"):
        settings.require(settings.ORDER_QUEUE_URL, {})


THROTTLED = client_error("ProvisionedThroughputExceededException")
DUE = datetime(2024, 1, 1, tzinfo=UTC)


def test_every_order_repository_call_translates_throttling() -> None:
    orders = OrderRepository("orders", FailingResource(THROTTLED))
    order = fixture_data("valid_order.json")

    with pytest.raises(TransientStorageError):
        orders.get("o-1")
    with pytest.raises(TransientStorageError):
        orders.create_received("o-1", "{}", "0" * 64, None, DUE)
    with pytest.raises(TransientStorageError):
        orders.record_fulfillment_attempt("o-1", "boom")
    with pytest.raises(TransientStorageError):
        list(orders.due_ids(DUE))
    with pytest.raises(TransientStorageError):
        orders.claim("o-1", OrderStatus.RECEIVED, "2024-01-01T00:00:00.000Z", DUE)
    with pytest.raises(TransientStorageError):
        orders.reopen_for_fulfillment("o-1", {"stage": "fulfillment"}, DUE)
    with pytest.raises(TransientStorageError):
        orders.mark_fulfillment_failed("o-1", FailureStage.FULFILLMENT, ["x"])
    with pytest.raises(TransientStorageError):
        orders.mark_fulfilled("o-1")
    with pytest.raises(TransientStorageError):
        orders.store_validated("o-1", parse_order(order))
    with pytest.raises(TransientStorageError):
        orders.expedite("o-1", DUE)


def test_every_failed_order_repository_call_translates_throttling() -> None:
    failed = FailedOrderRepository("failed", FailingResource(THROTTLED))

    with pytest.raises(TransientStorageError):
        failed.get("o-1")
    with pytest.raises(TransientStorageError):
        failed.record("o-1", FailureStage.FULFILLMENT, ["x"])
    with pytest.raises(TransientStorageError):
        failed.delete("o-1")


def test_create_received_refuses_to_overwrite_an_existing_order(tables: Tables) -> None:
    orders = tables.order_repository()

    assert orders.create_received("o-1", '{"first": 1}', "a" * 64, "key", DUE) is True
    assert orders.create_received("o-1", '{"second": 2}', "b" * 64, "key", DUE + timedelta(hours=1)) is False

    item = orders.get("o-1")
    assert item is not None
    assert item["request_body"] == '{"first": 1}'
    assert item["idempotency_key"] == "key"
    assert item[DUE_AT] == "2024-01-01T00:00:00.000Z"


def test_attempts_on_a_missing_order_do_not_create_it(tables: Tables) -> None:
    orders = tables.order_repository()

    assert orders.record_fulfillment_attempt("ghost", "boom") is False
    assert orders.mark_fulfilled("ghost") is None
    assert orders.get("ghost") is None
