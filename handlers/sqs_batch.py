"""Partial batch responses for SQS-triggered handlers (``ReportBatchItemFailures``)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from handlers.errors import DofsError, PoisonMessageError
from handlers.models import FulfillmentMessage, build_models

build_models(FulfillmentMessage)


class SqsRecord(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    message_id: str = Field(alias="messageId")
    body: str = ""
    attributes: dict[str, str] = Field(default_factory=dict)

    @property
    def receive_count(self) -> int:
        raw = self.attributes.get("ApproximateReceiveCount", "1")
        return int(raw) if raw.isdigit() else 1


class SqsEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    records: list[SqsRecord] = Field(alias="Records")


# Everything a body that is not a fulfillment message can raise while it is parsed.
_UNPARSEABLE = (ValueError, RecursionError, ValidationError)


def _fulfillment_message(body: str) -> FulfillmentMessage:
    return FulfillmentMessage.model_validate(json.loads(body))


def parse_fulfillment_message(record: SqsRecord) -> FulfillmentMessage:
    try:
        return _fulfillment_message(record.body)
    except _UNPARSEABLE as exc:
        raise PoisonMessageError(f"message {record.message_id} is not a fulfillment message") from exc


def order_id_in(body: str) -> str | None:
    """The ``order_id`` a message body names, for logs; None for anything else. Never raises."""
    try:
        return _fulfillment_message(body).order_id
    except _UNPARSEABLE:
        return None


def process_batch(
    event: dict[str, Any],
    handle_record: Callable[[SqsRecord], None],
    logger: logging.Logger,
) -> dict[str, list[dict[str, str]]]:
    """Run ``handle_record`` on each message; the ones that raise are reported failed.

    Only failed messages return to the queue, so one bad order does not redeliver
    the whole batch.
    """
    failures: list[dict[str, str]] = []
    for record in SqsEvent.model_validate(event).records:
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
