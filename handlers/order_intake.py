"""Accepting orders: record first, then start the workflow, idempotently.

The order is written as RECEIVED before its execution starts, and the record is the
promise: once it is written the client gets a 202. If Step Functions then refuses, the
order stays RECEIVED without an execution, and the reconciler starts it (as does a
retry with the same ``Idempotency-Key``). The execution is named after the order id,
so two starts of one order cannot create two executions of a STANDARD workflow.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from handlers.aws import error_code
from handlers.errors import (
    IdempotencyConflictError,
    OrderNotFoundError,
    OrderTooLargeError,
    WorkflowError,
    WorkflowStartError,
)
from handlers.models import OrderStatus, WorkflowInput, build_models, dump_json, execution_arn_of, to_cents
from handlers.observability import get_logger
from handlers.repository import OrderRepository

logger = get_logger("api_handler")
build_models(WorkflowInput)

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
class AcceptedOrder:
    order_id: str
    status: OrderStatus
    execution_arn: str | None  # None while the reconciler has still to start it


class WorkflowStarter:
    def __init__(self, state_machine_arn: str, client: Any) -> None:
        self.state_machine_arn = state_machine_arn
        self.client = client

    def execution_arn(self, order_id: str) -> str:
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

    def execution_status(self, order_id: str) -> str | None:
        """RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED; None when it never started."""
        try:
            response = self.client.describe_execution(executionArn=self.execution_arn(order_id))
        except ClientError as exc:
            if error_code(exc) == "ExecutionDoesNotExist":
                return None
            raise WorkflowError(f"DescribeExecution failed: {error_code(exc)}") from exc
        except BotoCoreError as exc:
            raise WorkflowError(f"DescribeExecution failed: {exc}") from exc
        return str(response["status"])


def workflow_input_json(order_id: str, request_body: str) -> str:
    """The execution input: the body travels as the client sent it, JSON-escaped into a string."""
    return WorkflowInput(order_id=order_id, request_body=request_body).model_dump_json()


def check_workflow_input_size(order_id: str, request_body: str) -> None:
    size = len(workflow_input_json(order_id, request_body).encode("utf-8"))
    if size > MAX_WORKFLOW_INPUT_BYTES:
        raise OrderTooLargeError(size, MAX_WORKFLOW_INPUT_BYTES)


class OrderIntakeService:
    def __init__(self, orders: OrderRepository, workflow: WorkflowStarter) -> None:
        self.orders = orders
        self.workflow = workflow

    def accept(self, order: dict[str, Any], raw_body: str, idempotency_key: str | None) -> AcceptedOrder:
        order_id = order_id_for(idempotency_key)
        check_workflow_input_size(order_id, raw_body)
        body_hash = fingerprint(order)
        status = OrderStatus.RECEIVED
        created = self.orders.create_received(order_id, raw_body, body_hash, idempotency_key)
        if not created:
            existing = self.orders.get(order_id)
            if existing is None:
                raise OrderNotFoundError(order_id)
            if existing.get("request_sha256") != body_hash:
                raise IdempotencyConflictError(
                    "this Idempotency-Key was already used with a different request body", order_id
                )
            status = OrderStatus(existing["status"])
            if existing.get("execution_arn"):
                return AcceptedOrder(order_id, status, str(existing["execution_arn"]))
            if status is not OrderStatus.RECEIVED:
                # Moved on with no execution recorded: the reconciler gave up on starting
                # it, or its execution ran but recording the ARN failed. Never start another.
                return AcceptedOrder(order_id, status, None)
            raw_body = str(existing["request_body"])
        try:
            execution_arn = self.workflow.start(order_id, raw_body)
        except WorkflowStartError as exc:
            logger.warning(
                "workflow not started; the reconciler will start it",
                extra={"order_id": order_id, "error": str(exc)},
            )
            return AcceptedOrder(order_id, status, None)
        self._record_execution(order_id, execution_arn)
        return AcceptedOrder(order_id, status, execution_arn)

    def _record_execution(self, order_id: str, execution_arn: str) -> None:
        # The execution runs whether or not this write lands; its ARN is derivable
        # from the order id, so a failure here is logged, not answered with an error.
        try:
            self.orders.record_execution(order_id, execution_arn)
        except Exception:
            logger.warning("execution ARN not recorded", extra={"order_id": order_id}, exc_info=True)

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
        "execution_arn": item.get("execution_arn"),
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
