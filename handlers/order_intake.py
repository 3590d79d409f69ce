"""Accepting orders: record first, then start the workflow, idempotently.

The order is written as RECEIVED before its execution starts, and the record is the
promise: once it is written the client gets a 202. If Step Functions then refuses, the
order stays RECEIVED, and the reconciler starts it once it is due (as does a retry with
the same ``Idempotency-Key``). Nothing here relies on the workflow type: the execution
is named after the order id, which a STANDARD workflow de-duplicates and an EXPRESS one
does not, and every write the workflow makes is conditional on the order's status, so a
second execution of one order changes nothing.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from handlers.aws import error_code
from handlers.errors import (
    DofsError,
    IdempotencyConflictError,
    OrderNotFoundError,
    OrderTooLargeError,
    WorkflowStartError,
)
from handlers.messages import WorkflowInput
from handlers.models import OrderStatus, dump_json, execution_arn_of, to_cents
from handlers.observability import get_logger
from handlers.repository import OrderRepository

logger = get_logger("api_handler")

# Fixed namespace: the same Idempotency-Key always names the same order.
IDEMPOTENCY_NAMESPACE = uuid.UUID("5f0e8a8c-3d5b-4c8e-9a57-3f1f5f1d0b6e")

# Step Functions takes at most 256 KiB of execution input (UTF-8); 1 KiB stays spare.
MAX_WORKFLOW_INPUT_BYTES = 256 * 1024 - 1024


def order_id_for(idempotency_key: str | None) -> str:
    if idempotency_key is None:
        return str(uuid.uuid4())
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, idempotency_key))


def fingerprint(order: Any) -> str:
    """A hash of the body's meaning: key order and spacing do not matter, types do."""
    canonical = dump_json(_typed(order))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _typed(value: Any) -> Any:
    """An unambiguous tree: every value tagged with its JSON type, objects as sorted pairs."""
    if isinstance(value, dict):
        return ["object", sorted([key, _typed(item)] for key, item in value.items())]
    if isinstance(value, list):
        return ["array", [_typed(item) for item in value]]
    if isinstance(value, bool) or value is None:
        return ["literal", value]
    if isinstance(value, str):
        return ["string", value]
    return ["number", str(value)]


@dataclass(frozen=True)
class IntakeDeadlines:
    """When the reconciler looks at an accepted order."""

    order_due: timedelta  # when the reconciler first looks at a new order
    restart_after: timedelta  # how soon it starts one whose workflow StartExecution refused


@dataclass(frozen=True)
class AcceptedOrder:
    """What the API answers for an order it recorded."""

    order_id: str
    status: OrderStatus
    execution_arn: str | None  # None while the reconciler has still to start it
    replayed: bool = False  # an Idempotency-Key seen before: the order was recorded earlier


class WorkflowStarter:
    def __init__(self, state_machine_arn: str, client: Any) -> None:
        self.state_machine_arn = state_machine_arn
        self.client = client

    def execution_arn(self, order_id: str) -> str:
        """The ARN of a STANDARD execution (EXPRESS ARNs carry an id StartExecution makes)."""
        return execution_arn_of(self.state_machine_arn, order_id)

    def start(self, order_id: str, request_body: str) -> str:
        try:
            response = self.client.start_execution(
                stateMachineArn=self.state_machine_arn,
                name=order_id,
                input=workflow_input_json(order_id, request_body),
            )
        except ClientError as exc:
            if error_code(exc) == "ExecutionAlreadyExists":
                return self.execution_arn(order_id)
            raise WorkflowStartError(f"StartExecution failed: {error_code(exc)}") from exc
        except BotoCoreError as exc:
            raise WorkflowStartError(f"StartExecution failed: {exc}") from exc
        return str(response["executionArn"])


def workflow_input_json(order_id: str, request_body: str) -> str:
    """The execution input: the body travels as the client sent it, JSON-escaped into a string."""
    return WorkflowInput(order_id=order_id, request_body=request_body).to_json()


def check_workflow_input_size(order_id: str, request_body: str) -> None:
    size = len(workflow_input_json(order_id, request_body).encode("utf-8"))
    if size > MAX_WORKFLOW_INPUT_BYTES:
        raise OrderTooLargeError(size, MAX_WORKFLOW_INPUT_BYTES)


class OrderIntakeService:
    def __init__(
        self, orders: OrderRepository, workflow: WorkflowStarter, deadlines: IntakeDeadlines
    ) -> None:
        self.orders = orders
        self.workflow = workflow
        self.deadlines = deadlines

    def accept(self, order: dict[str, Any], raw_body: str, idempotency_key: str | None) -> AcceptedOrder:
        order_id = order_id_for(idempotency_key)
        check_workflow_input_size(order_id, raw_body)
        body_hash = fingerprint(order)
        status = OrderStatus.RECEIVED
        due_at = datetime.now(UTC) + self.deadlines.order_due
        created = self.orders.create_received(order_id, raw_body, body_hash, idempotency_key, due_at)
        if not created:
            existing = self.orders.get(order_id)
            if existing is None:
                raise OrderNotFoundError(order_id)
            if existing.get("request_sha256") != body_hash:
                raise IdempotencyConflictError(
                    "this Idempotency-Key was already used with a different request body", order_id
                )
            status = OrderStatus(existing["status"])
            if status is not OrderStatus.RECEIVED:
                # Its workflow got further (or the reconciler gave up on it): never start another.
                return AcceptedOrder(order_id, status, None, replayed=True)
            raw_body = str(existing["request_body"])
        try:
            execution_arn = self.workflow.start(order_id, raw_body)
        except WorkflowStartError as exc:
            logger.warning(
                "workflow not started; the reconciler will start it",
                extra={"order_id": order_id, "error": str(exc)},
            )
            self._expedite(order_id)
            return AcceptedOrder(order_id, status, None, replayed=not created)
        return AcceptedOrder(order_id, status, execution_arn, replayed=not created)

    def _expedite(self, order_id: str) -> None:
        # Best effort: if this write fails too, the order is still due at its first deadline.
        try:
            self.orders.expedite(order_id, datetime.now(UTC) + self.deadlines.restart_after)
        except DofsError:
            logger.warning("deadline not brought forward", extra={"order_id": order_id}, exc_info=True)

    def status(self, order_id: str) -> dict[str, Any]:
        item = self.orders.get(order_id)
        if item is None:
            raise OrderNotFoundError(order_id)
        return public_view(item)


def _money(value: Any) -> str | None:
    """Money read back from DynamoDB (which drops trailing zeros) written with two decimals."""
    if value is None:
        return None
    return str(to_cents(Decimal(str(value))))


def public_view(item: dict[str, Any]) -> dict[str, Any]:
    """The order as ``GET /orders/{order_id}`` shows it; money as decimal strings."""
    view: dict[str, Any] = {
        "order_id": item["order_id"],
        "status": item["status"],
        "created_at": item.get("created_at"),
        "updated_at": item.get("updated_at"),
        "fulfillment_attempts": int(item.get("fulfillment_attempts", 0)),
    }
    if "customer_id" in item:
        view["customer_id"] = item["customer_id"]
        view["total_amount"] = _money(item.get("total_amount"))
        view["items"] = [
            {
                "product_id": line["product_id"],
                "quantity": int(line["quantity"]),
                "price": _money(line["price"]),
            }
            for line in item.get("items", [])
        ]
    for timestamp in ("validated_at", "fulfilled_at", "failed_at"):
        if timestamp in item:
            view[timestamp] = item[timestamp]
    if "failure_stage" in item:
        view["failure"] = {
            "stage": item["failure_stage"],
            "reasons": list(item.get("failure_reasons", [])),
        }
    return view
