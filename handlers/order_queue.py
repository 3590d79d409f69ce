"""Sending an order's fulfillment message, outside the workflow (reconciler, redrive)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from handlers.aws import error_code
from handlers.errors import QueueError
from handlers.models import FulfillmentMessage


class OrderQueue:
    def __init__(self, queue_url: str, sqs: Any) -> None:
        self.queue_url = queue_url
        self.sqs = sqs

    def enqueue(self, order_id: str) -> str:
        """Send the message the workflow sends; fulfillment is idempotent, so a duplicate is harmless."""
        body = FulfillmentMessage(order_id=order_id).model_dump_json()
        try:
            response = self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=body)
        except ClientError as exc:
            raise QueueError(f"SendMessage failed: {error_code(exc)}") from exc
        except BotoCoreError as exc:
            raise QueueError(f"SendMessage failed: {exc}") from exc
        return str(response["MessageId"])
