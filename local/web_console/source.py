"""What the console reads and does, against a local stack's emulator and API.

Reads are cheap and never consume anything: the orders are read through ``OrderCache``
(only the fields the console derives from, every page, and after the first scan only the
orders that changed, so counts stay exact and cheap while orders flow), and the DLQ is
peeked with ``VisibilityTimeout=0``, which leaves each message visible to dlq_processor
(it only raises the message's receive count, which nothing reads).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import boto3

from handlers.models import dump_json
from handlers.order_queue import OrderQueue
from handlers.repository import FailedOrderRepository, OrderRepository
from local.api_key import first_api_key
from local.console import queue_depth
from local.web_console import progress
from local.web_console.order_cache import OrderCache
from ops.redrive import OrderRedrive, move_dlq_messages

LISTED_ORDERS = 200
DLQ_PEEK_BATCHES = 5
API_TIMEOUT_SECONDS = 30
# Only what the console derives from: no items, no request body.
SCANNED_FIELDS = (
    "order_id",
    "status",
    "created_at",
    "validated_at",
    "fulfilled_at",
    "failed_at",
    "failure_stage",
    "fulfillment_attempts",
    "previous_failures",
)


class ConsoleError(Exception):
    """A request the console cannot serve; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error = status, error


@dataclass(frozen=True)
class StackEndpoints:
    """Where the local stack is: its outputs plus the emulator's endpoint and region."""

    outputs: Mapping[str, Any]
    aws_endpoint: str
    region: str

    @property
    def api_url(self) -> str:
        return str(self.outputs["api_url"])

    @property
    def api_key(self) -> str | None:
        """A key from the stack's ``api_keys`` output (a prod-config stack needs one)."""
        return first_api_key(self.outputs)


class StackSource:
    def __init__(self, stack: StackEndpoints) -> None:
        self.stack = stack
        session = boto3.session.Session(
            aws_access_key_id="local", aws_secret_access_key="local", region_name=stack.region
        )
        self.dynamodb = session.resource("dynamodb", endpoint_url=stack.aws_endpoint)
        self.sqs = session.client("sqs", endpoint_url=stack.aws_endpoint)
        self.sfn = session.client("stepfunctions", endpoint_url=stack.aws_endpoint)
        outputs = stack.outputs
        self.orders = self.dynamodb.Table(outputs["orders_table_name"])
        self.failed_orders = self.dynamodb.Table(outputs["failed_orders_table_name"])
        self.order_cache = OrderCache(
            session.client("dynamodb", endpoint_url=stack.aws_endpoint),
            outputs["orders_table_name"],
            SCANNED_FIELDS,
        )
        self._definition: dict[str, Any] | None = None

    # -- reads ------------------------------------------------------------------------

    def scan(self, table: Any, fields: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        request: dict[str, Any] = {}
        if fields:
            names = {f"#f{i}": name for i, name in enumerate(fields)}
            request = {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}
        items: list[dict[str, Any]] = []
        while True:
            page = table.scan(**request)
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return items
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def count(self, table: Any) -> int:
        request: dict[str, Any] = {"Select": "COUNT"}
        total = 0
        while True:
            page = table.scan(**request)
            total += int(page["Count"])
            if "LastEvaluatedKey" not in page:
                return total
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def order_items(self) -> list[dict[str, Any]]:
        return self.order_cache.items()

    def definition(self) -> dict[str, Any]:
        if self._definition is None:
            described = self.sfn.describe_state_machine(
                stateMachineArn=self.stack.outputs["state_machine_arn"]
            )
            self._definition = {"type": described.get("type"), **json.loads(described["definition"])}
        return self._definition

    def dlq_messages(self) -> list[dict[str, Any]]:
        """The DLQ's messages, peeked: received with VisibilityTimeout=0, so never hidden
        from dlq_processor. SQS returns a sample, so this is a view, not an inventory."""
        seen: dict[str, dict[str, Any]] = {}
        for _ in range(DLQ_PEEK_BATCHES):
            messages = self.sqs.receive_message(
                QueueUrl=self.stack.outputs["order_dlq_url"],
                MaxNumberOfMessages=10,
                VisibilityTimeout=0,
                WaitTimeSeconds=0,
                AttributeNames=["SentTimestamp", "ApproximateReceiveCount"],
            ).get("Messages", [])
            fresh = [m for m in messages if m["MessageId"] not in seen]
            if not fresh:
                break
            for message in fresh:
                seen[message["MessageId"]] = {
                    "message_id": message["MessageId"],
                    "body": message["Body"],
                    "sent_at": _epoch_ms(message.get("Attributes", {}).get("SentTimestamp")),
                }
        return list(seen.values())

    # -- the console's JSON ------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        items = self.order_items()
        statuses = progress.status_counts(items)
        depths = progress.QueueDepths(
            order_queue=queue_depth(self.sqs, self.stack.outputs["order_queue_url"]),
            dlq=queue_depth(self.sqs, self.stack.outputs["order_dlq_url"]),
            failed_records=self.count(self.failed_orders),
        )
        definition = self.definition()
        return {
            "generated_at": datetime.now(UTC).isoformat(),
            "workflow_type": definition.get("type"),
            "statuses": statuses,
            "depths": asdict(depths),
            "pipeline": progress.pipeline(statuses, depths),
            "workflow": progress.workflow_graph(definition, items),
            "charts": progress.charts(items, datetime.now(UTC)),
        }

    def order_list(self, status: str | None, limit: int = LISTED_ORDERS) -> dict[str, Any]:
        items = [item for item in self.order_items() if status in (None, "", item.get("status"))]
        items.sort(key=lambda item: str(item.get("created_at", "")), reverse=True)
        rows = [
            {
                "order_id": item["order_id"],
                "status": item.get("status"),
                "created_at": item.get("created_at"),
                "final_at": item.get("fulfilled_at") or item.get("failed_at"),
                "fulfillment_attempts": int(item.get("fulfillment_attempts", 0)),
            }
            for item in items[:limit]
        ]
        return {"status": status or None, "total": len(items), "orders": rows}

    def order(self, order_id: str) -> dict[str, Any]:
        item = self.orders.get_item(Key={"order_id": order_id}, ConsistentRead=True).get("Item")
        if item is None:
            raise ConsoleError(404, "order_not_found", f"no order {order_id!r} in the orders table")
        return progress.order_detail(item)

    def failures(self) -> dict[str, Any]:
        records = sorted(
            self.scan(self.failed_orders), key=lambda r: str(r.get("recorded_at", "")), reverse=True
        )
        return {
            "failed_orders": records[:LISTED_ORDERS],
            "failed_total": len(records),
            "dlq": self.dlq_messages(),
        }

    # -- actions ----------------------------------------------------------------------

    def redrive(self, order_ids: list[str] | None, dlq: bool) -> dict[str, Any]:
        """What ``make redrive`` does (the same service), reported as JSON."""
        outputs = self.stack.outputs
        service = OrderRedrive(
            OrderRepository(outputs["orders_table_name"], self.dynamodb),
            FailedOrderRepository(outputs["failed_orders_table_name"], self.dynamodb),
            OrderQueue(outputs["order_queue_url"], self.sqs),
        )
        report = service.redrive(order_ids)
        if dlq:
            report.dlq_messages_moved = move_dlq_messages(
                self.sqs, outputs["order_dlq_url"], outputs["order_queue_url"]
            )
        self.order_cache.expire()
        return {**asdict(report), "lines": report.lines()}

    def place_order(self, body: str, idempotency_key: str | None) -> dict[str, Any]:
        """POST the body to the stack's API as a client would (with the stack's API key)."""
        headers = {"Content-Type": "application/json"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        if self.stack.api_key:
            headers["x-api-key"] = self.stack.api_key
        request = urllib.request.Request(
            f"{self.stack.api_url}/order", data=body.encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=API_TIMEOUT_SECONDS) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        except OSError as exc:
            raise ConsoleError(502, "api_unreachable", f"the order API did not answer: {exc}") from exc
        return {"status": status, "body": json.loads(raw) if raw else None}


def _epoch_ms(value: str | None) -> str | None:
    return datetime.fromtimestamp(int(value) / 1000, UTC).isoformat() if value else None


def to_json(value: Any) -> bytes:
    return dump_json(value).encode()
