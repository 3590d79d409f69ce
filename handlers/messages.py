"""What the functions hand each other through AWS: the workflow's input (API to Step
Functions) and the message on the order queue (workflow or reconciler to fulfillment).

Frozen dataclasses, read from their JSON by hand: a payload that is not one raises
``MalformedInputError`` naming every field at fault.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from handlers.errors import MalformedInputError
from handlers.models import dump_json
from handlers.parsing import TEXT, check_fields, missing_fields, require, require_object, wrong_types

MAX_ORDER_ID_LENGTH = 256


@dataclass(frozen=True)
class WorkflowInput:
    """What the API hands to the state machine; the body travels as the client sent it."""

    order_id: str
    request_body: str

    @classmethod
    def from_event(cls, event: Any) -> WorkflowInput:
        fields = require_object(event, "workflow input")
        required = ("order_id", "request_body")
        check_fields(fields, "workflow input", required, types=dict.fromkeys(required, TEXT))
        return cls(order_id=fields["order_id"], request_body=fields["request_body"])

    def to_json(self) -> str:
        """Compact, and UTF-8 rather than ``\\u`` escapes: its size is what Step Functions counts."""
        data = {"order_id": self.order_id, "request_body": self.request_body}
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _is_order_id(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value.strip()) <= MAX_ORDER_ID_LENGTH


@dataclass(frozen=True)
class FulfillmentMessage:
    """Body of a message on the order queue, ``{"order_id": ...}``; other fields are ignored."""

    order_id: str

    @classmethod
    def from_json(cls, body: str) -> FulfillmentMessage:
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise MalformedInputError("fulfillment message: is not JSON") from None
        fields = require_object(data, "fulfillment message")
        expected = {
            "order_id": (_is_order_id, f"a non-blank string of at most {MAX_ORDER_ID_LENGTH} characters")
        }
        require(missing_fields(fields, expected) + wrong_types(fields, expected), "fulfillment message")
        return cls(order_id=fields["order_id"].strip())

    def to_json(self) -> str:
        return dump_json({"order_id": self.order_id})
