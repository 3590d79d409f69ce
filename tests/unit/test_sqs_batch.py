"""sqs_batch: partial batch responses report exactly the records that failed."""

from __future__ import annotations

import logging

import pytest

from handlers.errors import FulfillmentAttemptError, MalformedInputError, PoisonMessageError
from handlers.observability import get_logger
from handlers.sqs_batch import SqsRecord, order_id_in, parse_fulfillment_message, process_batch
from tests.unit.support import fixture_data, logged, order_message, sqs_event, sqs_record

LOGGER = logging.getLogger("tests.unit.sqs_batch")
JSON_LOGGER = get_logger("tests-sqs-batch")


def _handler_failing_for(failing: set[str], handled: list[str]):
    def handle(record: SqsRecord) -> None:
        handled.append(record.message_id)
        if record.message_id in failing:
            raise FulfillmentAttemptError(f"{record.message_id} failed")

    return handle


@pytest.mark.parametrize(
    "failing",
    [set(), {"m1"}, {"m3"}, {"m2", "m4"}, {"m1", "m2", "m3", "m4"}],
    ids=["none", "first", "middle", "two", "all"],
)
def test_only_failing_records_are_reported_and_every_record_is_tried(failing: set[str]) -> None:
    ids = ["m1", "m2", "m3", "m4"]
    handled: list[str] = []
    event = sqs_event(*(sqs_record(mid, order_message(f"order-{mid}")) for mid in ids))

    response = process_batch(event, _handler_failing_for(failing, handled), LOGGER)

    assert handled == ids
    assert response == {"batchItemFailures": [{"itemIdentifier": mid} for mid in ids if mid in failing]}


def test_any_exception_type_is_reported_not_raised() -> None:
    def handle(record: SqsRecord) -> None:
        if record.message_id == "boom":
            raise KeyError("unexpected")
        if record.message_id == "poison":
            raise PoisonMessageError("bad body")

    event = sqs_event(sqs_record("ok", "{}"), sqs_record("boom", "{}"), sqs_record("poison", "x"))

    response = process_batch(event, handle, LOGGER)

    assert response == {"batchItemFailures": [{"itemIdentifier": "boom"}, {"itemIdentifier": "poison"}]}


def test_an_empty_batch_reports_nothing() -> None:
    assert process_batch({"Records": []}, _handler_failing_for(set(), []), LOGGER) == {
        "batchItemFailures": []
    }


def test_an_event_without_records_is_refused() -> None:
    with pytest.raises(MalformedInputError, match="Records: is required"):
        process_batch({"Messages": []}, _handler_failing_for(set(), []), LOGGER)


def test_the_recorded_sqs_fixture_parses_into_its_order_id() -> None:
    (raw,) = fixture_data("sqs_event.json")["Records"]
    record = SqsRecord.from_event_record(raw)

    message = parse_fulfillment_message(record)

    assert record.message_id == "msg-0001"
    assert record.receive_count == 1
    assert message.order_id == "00000000-0000-4000-8000-000000000001"


def test_extra_fields_in_a_message_are_ignored() -> None:
    record = SqsRecord.from_event_record(sqs_record("m", '{"order_id": "o-1", "sent_by": "workflow"}'))

    assert parse_fulfillment_message(record).order_id == "o-1"


@pytest.mark.parametrize("body", ["not json", "", "[]", "null", "{}", '{"order_id": ""}', '{"order_id": 1}'])
def test_a_body_that_is_not_a_fulfillment_message_is_poison(body: str) -> None:
    record = SqsRecord.from_event_record(sqs_record("m-poison", body))

    with pytest.raises(PoisonMessageError, match="m-poison"):
        parse_fulfillment_message(record)


@pytest.mark.parametrize(("raw", "expected"), [("5", 5), ("1", 1), ("", 1), ("many", 1)])
def test_receive_count_falls_back_to_one_when_absent_or_garbled(raw: str, expected: int) -> None:
    data = sqs_record("m", "{}")
    data["attributes"]["ApproximateReceiveCount"] = raw

    assert SqsRecord.from_event_record(data).receive_count == expected


def _always_failing(record: SqsRecord) -> None:
    raise FulfillmentAttemptError("no luck")


def test_the_not_processed_warning_names_the_order_of_a_json_body(capsys: pytest.CaptureFixture[str]) -> None:
    event = sqs_event(
        sqs_record("m1", order_message("ord-1"), 2), sqs_record("m2", '{"order_id": " ord-2 "}')
    )

    process_batch(event, _always_failing, JSON_LOGGER)

    entries = logged(capsys.readouterr().out, "message not processed")
    assert [(e["message_id"], e["order_id"], e["level"]) for e in entries] == [
        ("m1", "ord-1", "WARN"),
        ("m2", "ord-2", "WARN"),
    ]
    assert entries[0]["receive_count"] == 2
    assert entries[0]["error"] == "FulfillmentAttemptError: no luck"


@pytest.mark.parametrize(
    "body",
    ["not json", "", "[]", "null", "{}", '{"order_id": 7}', '{"order_id": "  "}', "[" * 5_000 + "]" * 5_000],
    ids=["text", "empty", "array", "null", "no id", "numeric id", "blank id", "deep nesting"],
)
def test_a_body_without_an_order_id_is_still_reported_without_one(
    body: str, capsys: pytest.CaptureFixture[str]
) -> None:
    response = process_batch(sqs_event(sqs_record("m1", body)), _always_failing, JSON_LOGGER)

    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    (entry,) = logged(capsys.readouterr().out, "message not processed")
    assert entry["message_id"] == "m1"
    assert "order_id" not in entry


@pytest.mark.parametrize(
    ("body", "expected"),
    [('{"order_id": "o-1"}', "o-1"), ('{"order_id": "o-1", "x": [1]}', "o-1"), ("[]", None), ("{", None)],
)
def test_order_id_in_reads_only_a_json_object_with_a_string_id(body: str, expected: str | None) -> None:
    assert order_id_in(body) == expected
