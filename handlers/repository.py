"""DynamoDB access for the orders and failed-orders tables.

Every status change is a conditional write, so a handler that runs twice (a retried
task, a redelivered message) either repeats a no-op or learns that another writer
already moved the order on; it never moves an order backwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from handlers.aws import is_conditional_check_failure, translate_storage_error
from handlers.errors import OrderStateConflictError
from handlers.models import STATUS_INDEX, FailureStage, Order, OrderStatus


def utc_iso(moment: datetime | None = None) -> str:
    """``moment`` (default: now) as the UTC timestamp stored in ``updated_at`` and friends."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _conditional_write(write: Callable[[], object]) -> bool:
    """Run a conditional DynamoDB write; False when its condition failed."""
    try:
        write()
    except ClientError as exc:
        if is_conditional_check_failure(exc):
            return False
        raise translate_storage_error(exc) from exc
    except BotoCoreError as exc:
        raise translate_storage_error(exc) from exc
    return True


class _KeyedTable:
    """A DynamoDB table keyed by ``order_id``, with DOFS's error translation."""

    def __init__(self, table_name: str, dynamodb: Any | None = None) -> None:
        self.table = (dynamodb or boto3.resource("dynamodb")).Table(table_name)

    def get(self, order_id: str) -> dict[str, Any] | None:
        try:
            response = self.table.get_item(Key={"order_id": order_id}, ConsistentRead=True)
        except (ClientError, BotoCoreError) as exc:
            raise translate_storage_error(exc) from exc
        item: dict[str, Any] | None = response.get("Item")
        return item

    def _put_new(self, item: dict[str, Any]) -> bool:
        """Put ``item`` unless its key exists; False when it did."""
        return _conditional_write(
            lambda: self.table.put_item(Item=item, ConditionExpression="attribute_not_exists(order_id)")
        )


class OrderRepository(_KeyedTable):
    def create_received(
        self,
        order_id: str,
        request_body: str,
        request_sha256: str,
        idempotency_key: str | None,
    ) -> bool:
        """Record a new order as RECEIVED; False when the order id already exists."""
        now = utc_iso()
        item: dict[str, Any] = {
            "order_id": order_id,
            "status": OrderStatus.RECEIVED.value,
            "created_at": now,
            "updated_at": now,
            "request_body": request_body,
            "request_sha256": request_sha256,
            "fulfillment_attempts": 0,
        }
        if idempotency_key is not None:
            item["idempotency_key"] = idempotency_key
        return self._put_new(item)

    def record_execution(self, order_id: str, execution_arn: str) -> None:
        written = self._update(
            order_id,
            "SET execution_arn = :arn",
            {":arn": execution_arn},
            condition="attribute_exists(order_id)",
        )
        if not written:
            raise OrderStateConflictError(f"order {order_id} does not exist")

    def store_validated(self, order_id: str, order: Order) -> bool:
        """RECEIVED → VALIDATED with the typed order; False if it had moved on already."""
        fields = order.model_dump(mode="python")
        return self._transition(
            order_id,
            OrderStatus.VALIDATED,
            allowed_from=(OrderStatus.RECEIVED, OrderStatus.VALIDATED),
            allow_missing=True,
            extra={
                "customer_id": fields["customer_id"],
                "items": [dict(item) for item in fields["items"]],
                "total_amount": fields["total_amount"],
                "shipping_address": {k: v for k, v in fields["shipping_address"].items() if v is not None},
                "validated_at": utc_iso(),
            },
        )

    def mark_rejected(self, order_id: str, reasons: Sequence[str]) -> bool:
        return self._transition(
            order_id,
            OrderStatus.REJECTED,
            allowed_from=(OrderStatus.RECEIVED, OrderStatus.REJECTED),
            allow_missing=True,
            extra={
                "failure_stage": FailureStage.VALIDATION.value,
                "failure_reasons": list(reasons),
                "failed_at": utc_iso(),
            },
        )

    def mark_fulfilled(self, order_id: str) -> bool:
        """PENDING_FULFILLMENT → FULFILLED, counting the successful attempt in the same write.

        One conditional write: a duplicate delivery that lost the race changes nothing.
        """
        return self._transition(
            order_id,
            OrderStatus.FULFILLED,
            allowed_from=(OrderStatus.PENDING_FULFILLMENT,),
            extra={"fulfilled_at": utc_iso()},
            increments={"fulfillment_attempts": 1},
        )

    def mark_fulfillment_failed(self, order_id: str, stage: FailureStage, reasons: Sequence[str]) -> bool:
        return self._transition(
            order_id,
            OrderStatus.FULFILLMENT_FAILED,
            allowed_from=(
                OrderStatus.RECEIVED,
                OrderStatus.VALIDATED,
                OrderStatus.PENDING_FULFILLMENT,
            ),
            allow_missing=True,
            extra={
                "failure_stage": stage.value,
                "failure_reasons": list(reasons),
                "failed_at": utc_iso(),
            },
        )

    def ids_in_status(self, status: OrderStatus, updated_before: str | None = None) -> Iterator[str]:
        """Ids of the orders in ``status`` (last updated before ``updated_before``), oldest first.

        Read from the status index, which lags the table slightly: re-read before acting.
        """
        condition = "#status = :status" + (" AND updated_at < :before" if updated_before else "")
        values: dict[str, Any] = {":status": status.value}
        if updated_before:
            values[":before"] = updated_before
        query: dict[str, Any] = {
            "IndexName": STATUS_INDEX,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": values,
        }
        while True:
            try:
                page = self.table.query(**query)
            except (ClientError, BotoCoreError) as exc:
                raise translate_storage_error(exc) from exc
            yield from (str(item["order_id"]) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def claim(self, order_id: str, status: OrderStatus, seen_updated_at: str) -> bool:
        """Take an order for reconciliation: count the attempt and touch ``updated_at``,
        only if nobody changed it since it was read. Of two reconcilers, one wins."""
        return self._update(
            order_id,
            "SET updated_at = :now ADD reconcile_attempts :one",
            {":now": utc_iso(), ":one": 1, ":status": status.value, ":seen": seen_updated_at},
            condition="#status = :status AND updated_at = :seen",
            names={"#status": "status"},
        )

    def mark_pending_fulfillment(self, order_id: str) -> bool:
        """VALIDATED → PENDING_FULFILLMENT, for an order whose workflow ended before doing it."""
        return self._transition(
            order_id, OrderStatus.PENDING_FULFILLMENT, allowed_from=(OrderStatus.VALIDATED,), extra={}
        )

    def reopen_for_fulfillment(self, order_id: str, failure: Mapping[str, Any]) -> bool:
        """FULFILLMENT_FAILED → PENDING_FULFILLMENT for a validated order (a redrive).

        The failure is kept in ``previous_failures``; the reconciler may drive it on again.
        """
        return self._update(
            order_id,
            "SET #status = :pending, updated_at = :now, "
            "previous_failures = list_append(if_not_exists(previous_failures, :none), :failure) "
            "REMOVE failure_stage, failure_reasons, failed_at, last_fulfillment_error, reconcile_attempts "
            "ADD redrive_count :one",
            {
                ":pending": OrderStatus.PENDING_FULFILLMENT.value,
                ":failed": OrderStatus.FULFILLMENT_FAILED.value,
                ":now": utc_iso(),
                ":one": 1,
                ":none": [],
                ":failure": [dict(failure)],
            },
            condition="#status = :failed AND attribute_exists(validated_at)",
            names={"#status": "status"},
        )

    def record_fulfillment_attempt(self, order_id: str, error: str) -> bool:
        """Count a failed attempt of a PENDING_FULFILLMENT order; False when it is not pending (any more)."""
        return self._update(
            order_id,
            "ADD fulfillment_attempts :one SET updated_at = :now, last_fulfillment_error = :error",
            {
                ":one": 1,
                ":now": utc_iso(),
                ":error": error,
                ":pending": OrderStatus.PENDING_FULFILLMENT.value,
            },
            condition="#status = :pending",
            names={"#status": "status"},
        )

    def _transition(
        self,
        order_id: str,
        to_status: OrderStatus,
        allowed_from: Iterable[OrderStatus],
        extra: dict[str, Any],
        *,
        allow_missing: bool = False,
        increments: Mapping[str, int] | None = None,
    ) -> bool:
        """Conditionally move the order to ``to_status``; False when the condition failed.

        ``extra`` fields are set and ``increments`` added to, in the same write. The
        reconciler's attempt count is per status, so a change of status clears it.
        """
        names = {"#status": "status"}
        values: dict[str, Any] = {":to": to_status.value, ":now": utc_iso()}
        assignments = ["#status = :to", "updated_at = :now"]
        for index, (field, value) in enumerate(sorted(extra.items())):
            names[f"#f{index}"] = field
            values[f":f{index}"] = value
            assignments.append(f"#f{index} = :f{index}")
        expression = "SET " + ", ".join(assignments) + " REMOVE reconcile_attempts"
        additions = []
        for index, (field, amount) in enumerate(sorted((increments or {}).items())):
            names[f"#i{index}"] = field
            values[f":i{index}"] = amount
            additions.append(f"#i{index} :i{index}")
        if additions:
            expression += " ADD " + ", ".join(additions)
        condition = self._status_condition(allowed_from, values)
        if allow_missing:
            condition = f"attribute_not_exists(order_id) OR {condition}"
        return self._update(order_id, expression, values, condition=condition, names=names)

    @staticmethod
    def _status_condition(allowed_from: Iterable[OrderStatus], values: dict[str, Any]) -> str:
        """``#status IN (...)``, adding the statuses to ``values``."""
        allowed = []
        for index, status in enumerate(allowed_from):
            values[f":from{index}"] = status.value
            allowed.append(f":from{index}")
        return f"#status IN ({', '.join(allowed)})"

    def _update(
        self,
        order_id: str,
        expression: str,
        values: dict[str, Any],
        condition: str,
        names: dict[str, str] | None = None,
    ) -> bool:
        """A conditional UpdateItem; False when the order is missing or not in the expected state."""
        kwargs: dict[str, Any] = {
            "Key": {"order_id": order_id},
            "UpdateExpression": expression,
            "ExpressionAttributeValues": values,
            "ConditionExpression": condition,
        }
        if names:
            kwargs["ExpressionAttributeNames"] = names
        return _conditional_write(lambda: self.table.update_item(**kwargs))


class FailedOrderRepository(_KeyedTable):
    def record(self, order_id: str, stage: FailureStage, reasons: Sequence[str], **details: str) -> bool:
        """Write the failure record once; False when one already exists for the order."""
        item: dict[str, Any] = {
            "order_id": order_id,
            "stage": stage.value,
            "reasons": list(reasons),
            "recorded_at": utc_iso(),
            **{k: v for k, v in details.items() if v},
        }
        return self._put_new(item)

    def delete(self, order_id: str) -> None:
        try:
            self.table.delete_item(Key={"order_id": order_id})
        except (ClientError, BotoCoreError) as exc:
            raise translate_storage_error(exc) from exc
