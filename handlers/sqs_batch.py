"""Partial batch responses for SQS-triggered handlers (``ReportBatchItemFailures``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.logging import Logger

from handlers.errors import DofsError, MalformedInputError, PoisonMessageError
from handlers.messages import FulfillmentMessage
from handlers.parsing import (
    TEXT,
    is_list,
    is_text,
    missing_fields,
    object_of,
    require,
    require_object,
    wrong_types,
)

_RECORD_FIELDS = {"messageId": TEXT, "body": TEXT, "attributes": (object_of(is_text), "an object of strings")}


@dataclass(frozen=True)
class SqsRecord:
    """The fields DOFS reads from one record of an SQS event; the others are ignored."""

    message_id: str
    body: str = ""
    attributes: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_event_record(cls, record: Any, path: str = "record") -> SqsRecord:
        fields = require_object(record, path)
        require(missing_fields(fields, ("messageId",)) + wrong_types(fields, _RECORD_FIELDS), path)
        return cls(
            message_id=fields["messageId"],
            body=fields.get("body", ""),
            attributes=dict(fields.get("attributes", {})),
        )

    @property
    def receive_count(self) -> int:
        raw = self.attributes.get("ApproximateReceiveCount", "1")
        return int(raw) if raw.isdigit() else 1


def sqs_records(event: Any) -> list[SqsRecord]:
    """The records of an SQS event; ``MalformedInputError`` when ``event`` is not one."""
    fields = require_object(event, "SQS event")
    expected = {"Records": (is_list, "a list")}
    require(missing_fields(fields, expected) + wrong_types(fields, expected), "SQS event")
    return [
        SqsRecord.from_event_record(record, f"SQS event: Records[{index}]")
        for index, record in enumerate(fields["Records"])
    ]


def parse_fulfillment_message(record: SqsRecord) -> FulfillmentMessage:
    try:
        return FulfillmentMessage.from_json(record.body)
    except MalformedInputError as exc:
        raise PoisonMessageError(f"message {record.message_id} is not a fulfillment message") from exc


def order_id_in(body: str) -> str | None:
    """The ``order_id`` a message body names, for logs; None for anything else. Never raises."""
    try:
        return FulfillmentMessage.from_json(body).order_id
    except MalformedInputError:
        return None


def process_batch(
    event: dict[str, Any],
    handle_record: Callable[[SqsRecord], None],
    logger: Logger | logging.Logger,
) -> dict[str, list[dict[str, str]]]:
    """Run ``handle_record`` on each message; the ones that raise are reported failed.

    Only failed messages return to the queue, so one bad order does not redeliver
    the whole batch.
    """
    failures: list[dict[str, str]] = []
    for record in sqs_records(event):
        try:
            handle_record(record)
        except Exception as exc:
            fields: dict[str, Any] = {
                "message_id": record.message_id,
                "receive_count": record.receive_count,
                "error": f"{type(exc).__name__}: {exc}",
            }
            order_id = order_id_in(record.body)
            if order_id is not None:
                fields["order_id"] = order_id
            # DOFS's own errors say what went wrong; a traceback is for the unexpected.
            logger.warning("message not processed", extra=fields, exc_info=not isinstance(exc, DofsError))
            failures.append({"itemIdentifier": record.message_id})
    return {"batchItemFailures": failures}
