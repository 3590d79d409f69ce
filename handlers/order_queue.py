"""Sending an order's fulfillment message, outside the workflow (reconciler, redrive)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from handlers.aws import error_code
from handlers.errors import QueueError
from handlers.messages import FulfillmentMessage

WAITING_MESSAGE_ATTRIBUTES = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed")


class OrderQueue:
    def __init__(self, queue_url: str, sqs: Any) -> None:
        self.queue_url = queue_url
        self.sqs = sqs

    def enqueue(self, order_id: str) -> str:
        """Send the message the workflow sends; fulfillment is idempotent, so a duplicate is harmless."""
        body = FulfillmentMessage(order_id=order_id).to_json()
        response = self._call(
            "SendMessage", lambda: self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=body)
        )
        return str(response["MessageId"])

    def waiting_messages(self) -> int:
        """About how many messages wait to be received (not those in flight): the backlog."""
        response = self._call(
            "GetQueueAttributes",
            lambda: self.sqs.get_queue_attributes(
                QueueUrl=self.queue_url, AttributeNames=list(WAITING_MESSAGE_ATTRIBUTES)
            ),
        )
        attributes = response.get("Attributes", {})
        return sum(int(attributes.get(name, 0)) for name in WAITING_MESSAGE_ATTRIBUTES)

    @staticmethod
    def _call(operation: str, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        try:
            return call()
        except ClientError as exc:
            raise QueueError(f"{operation} failed: {error_code(exc)}") from exc
        except BotoCoreError as exc:
            raise QueueError(f"{operation} failed: {exc}") from exc
