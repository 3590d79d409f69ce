"""DynamoDB access for the orders and failed-orders tables.

Every status change is a conditional write, so a handler that runs twice (a retried
task, a redelivered message) either repeats a no-op or learns that another writer
already moved the order on; it never moves an order backwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from handlers.aws import is_conditional_check_failure, translate_storage_error
from handlers.models import (
    DUE_AT,
    IN_FLIGHT_INDEX,
    IN_FLIGHT_SHARD,
    IN_FLIGHT_SHARDS,
    FailureStage,
    OrderStatus,
    in_flight_shard,
)

if TYPE_CHECKING:
    from handlers.order_shape import Order

# What leaves an order when it reaches a final status: the in-flight index's keys (so it
# leaves the index) and the raw request body, if it never got as far as validation.
FINAL_REMOVALS = (IN_FLIGHT_SHARD, DUE_AT, "request_body")


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


@dataclass(frozen=True)
class FinalMove:
    """An order that a write moved to a final status, as it was before the write."""

    created_at: str | None  # when the API accepted it (None for an order the write created)
    newly_final: bool  # False when it already had that status (a repeated, idempotent write)


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
    """The orders table. An order in flight (RECEIVED, PENDING_FULFILLMENT) carries the keys
    of the in-flight index, ``in_flight`` (its shard) and ``due_at`` (when the reconciler
    should look at it); a final status removes both. Writes are kept small: the raw request
    body lives only until the order is validated."""

    def create_received(
        self,
        order_id: str,
        request_body: str,
        request_sha256: str,
        idempotency_key: str | None,
        due_at: datetime,
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
            IN_FLIGHT_SHARD: in_flight_shard(order_id),
            DUE_AT: utc_iso(due_at),
        }
        if idempotency_key is not None:
            item["idempotency_key"] = idempotency_key
        return self._put_new(item)

    def expedite(self, order_id: str, due_at: datetime) -> bool:
        """Bring a RECEIVED order's deadline forward (its workflow did not start); False if it moved on."""
        return self._update(
            order_id,
            "SET #due = :due",
            {":due": utc_iso(due_at), ":received": OrderStatus.RECEIVED.value},
            condition="#status = :received",
            names={"#status": "status", "#due": DUE_AT},
        )

    def store_validated(self, order_id: str, order: Order) -> bool:
        """RECEIVED → PENDING_FULFILLMENT with the typed order, in one write; the raw body goes.

        Its deadline stays: it was set for the whole trip, so the in-flight index is not
        written. False if the order had moved on. A re-run of an order still pending writes
        again (the workflow then enqueues it again, which fulfillment tolerates).
        """
        return self._transition(
            order_id,
            OrderStatus.PENDING_FULFILLMENT,
            allowed_from=(OrderStatus.RECEIVED, OrderStatus.PENDING_FULFILLMENT),
            extra={**order.as_dict(), "validated_at": utc_iso()},
            remove=("request_body",),
        )

    def mark_rejected(self, order_id: str, reasons: Sequence[str]) -> FinalMove | None:
        """RECEIVED → REJECTED; a repeated rejection succeeds again, with ``newly_final`` False."""
        return self._finalize(
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

    def mark_fulfilled(self, order_id: str) -> FinalMove | None:
        """PENDING_FULFILLMENT → FULFILLED, counting the successful attempt in the same write.

        One conditional write: a duplicate delivery that lost the race changes nothing.
        """
        return self._finalize(
            order_id,
            OrderStatus.FULFILLED,
            allowed_from=(OrderStatus.PENDING_FULFILLMENT,),
            extra={"fulfilled_at": utc_iso()},
            increments={"fulfillment_attempts": 1},
        )

    def mark_fulfillment_failed(
        self, order_id: str, stage: FailureStage, reasons: Sequence[str]
    ) -> FinalMove | None:
        return self._finalize(
            order_id,
            OrderStatus.FULFILLMENT_FAILED,
            allowed_from=(OrderStatus.RECEIVED, OrderStatus.PENDING_FULFILLMENT),
            allow_missing=True,
            extra={
                "failure_stage": stage.value,
                "failure_reasons": list(reasons),
                "failed_at": utc_iso(),
            },
        )

    def due_ids(self, now: datetime) -> list[str]:
        """Ids of the orders in flight whose ``due_at`` has passed, the longest overdue first.

        Read from every shard of the in-flight index (keys only, so a page holds thousands),
        which lags the table slightly: re-read before acting.
        """
        due = [
            key
            for shard in range(IN_FLIGHT_SHARDS)
            for key in self._due_in_shard(f"{shard:02d}", utc_iso(now))
        ]
        return [order_id for _, order_id in sorted(due)]

    def _due_in_shard(self, shard: str, now: str) -> Iterator[tuple[str, str]]:
        query: dict[str, Any] = {
            "IndexName": IN_FLIGHT_INDEX,
            "KeyConditionExpression": "#shard = :shard AND #due <= :now",
            "ExpressionAttributeNames": {"#shard": IN_FLIGHT_SHARD, "#due": DUE_AT},
            "ExpressionAttributeValues": {":shard": shard, ":now": now},
        }
        while True:
            try:
                page = self.table.query(**query)
            except (ClientError, BotoCoreError) as exc:
                raise translate_storage_error(exc) from exc
            yield from ((str(item[DUE_AT]), str(item["order_id"])) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def claim(self, order_id: str, status: OrderStatus, seen_due_at: str, next_due_at: datetime) -> bool:
        """Take an order for reconciliation: count the attempt and move ``due_at`` on to
        ``next_due_at``, only if nobody changed it since it was read. Of two reconcilers, one wins."""
        return self._update(
            order_id,
            "SET #due = :next, updated_at = :now ADD reconcile_attempts :one",
            {
                ":next": utc_iso(next_due_at),
                ":now": utc_iso(),
                ":one": 1,
                ":status": status.value,
                ":seen": seen_due_at,
            },
            condition="#status = :status AND #due = :seen",
            names={"#status": "status", "#due": DUE_AT},
        )

    def reopen_for_fulfillment(self, order_id: str, failure: Mapping[str, Any], due_at: datetime) -> bool:
        """FULFILLMENT_FAILED → PENDING_FULFILLMENT for a validated order (a redrive).

        The failure is kept in ``previous_failures``; the reconciler may drive it on again.
        """
        return self._update(
            order_id,
            "SET #status = :pending, updated_at = :now, #shard = :shard, #due = :due, "
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
                ":shard": in_flight_shard(order_id),
                ":due": utc_iso(due_at),
            },
            condition="#status = :failed AND attribute_exists(validated_at)",
            names={"#status": "status", "#shard": IN_FLIGHT_SHARD, "#due": DUE_AT},
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
        remove: Sequence[str] = (),
    ) -> bool:
        """Conditionally move the order to ``to_status``; False when the condition failed."""
        kwargs = self._transition_kwargs(
            order_id,
            to_status,
            allowed_from,
            extra=extra,
            allow_missing=allow_missing,
            increments=increments,
            remove=remove,
        )
        return _conditional_write(lambda: self.table.update_item(**kwargs))

    def _finalize(
        self,
        order_id: str,
        to_status: OrderStatus,
        allowed_from: Iterable[OrderStatus],
        extra: dict[str, Any],
        *,
        allow_missing: bool = False,
        increments: Mapping[str, int] | None = None,
    ) -> FinalMove | None:
        """``_transition`` to a final status, reading the order as it was in the same write
        (UpdateItem API reference: a return value costs no capacity, "aside from the small
        network and processing overhead"); None when the condition failed."""
        kwargs = self._transition_kwargs(
            order_id,
            to_status,
            allowed_from,
            extra=extra,
            allow_missing=allow_missing,
            increments=increments,
            remove=FINAL_REMOVALS,
        )
        kwargs["ReturnValues"] = "ALL_OLD"
        response: Any = None

        def write() -> None:
            nonlocal response
            response = self.table.update_item(**kwargs)

        if not _conditional_write(write):
            return None
        before = response.get("Attributes", {}) if isinstance(response, Mapping) else {}
        created_at = before.get("created_at")
        return FinalMove(
            created_at=str(created_at) if created_at is not None else None,
            newly_final=before.get("status") != to_status.value,
        )

    def _transition_kwargs(
        self,
        order_id: str,
        to_status: OrderStatus,
        allowed_from: Iterable[OrderStatus],
        *,
        extra: dict[str, Any],
        allow_missing: bool,
        increments: Mapping[str, int] | None,
        remove: Sequence[str],
    ) -> dict[str, Any]:
        """The conditional UpdateItem that moves the order to ``to_status``.

        ``extra`` fields are set, ``increments`` added to and ``remove`` removed, in the same
        write. The reconciler's attempt count is per status, so a change of status clears it.
        """
        names = {"#status": "status"}
        values: dict[str, Any] = {":to": to_status.value, ":now": utc_iso()}
        assignments = ["#status = :to", "updated_at = :now"]
        for index, (field, value) in enumerate(sorted(extra.items())):
            names[f"#f{index}"] = field
            values[f":f{index}"] = value
            assignments.append(f"#f{index} = :f{index}")
        removals = ", ".join(["reconcile_attempts", *remove])
        expression = "SET " + ", ".join(assignments) + " REMOVE " + removals
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
        return self._update_kwargs(order_id, expression, values, condition=condition, names=names)

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
        kwargs = self._update_kwargs(order_id, expression, values, condition, names)
        return _conditional_write(lambda: self.table.update_item(**kwargs))

    @staticmethod
    def _update_kwargs(
        order_id: str,
        expression: str,
        values: dict[str, Any],
        condition: str,
        names: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "Key": {"order_id": order_id},
            "UpdateExpression": expression,
            "ExpressionAttributeValues": values,
            "ConditionExpression": condition,
        }
        if names:
            kwargs["ExpressionAttributeNames"] = names
        return kwargs


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

    def order_ids(self, stages: Iterable[FailureStage]) -> list[str]:
        """Ids of the failures recorded at ``stages`` (a scan, for operators: only failures are there)."""
        wanted = {stage.value for stage in stages}
        scan: dict[str, Any] = {
            "ProjectionExpression": "#id, #stage",
            "ExpressionAttributeNames": {"#id": "order_id", "#stage": "stage"},
        }
        found: list[str] = []
        while True:
            try:
                page = self.table.scan(**scan)
            except (ClientError, BotoCoreError) as exc:
                raise translate_storage_error(exc) from exc
            found += [str(item["order_id"]) for item in page.get("Items", []) if item.get("stage") in wanted]
            if "LastEvaluatedKey" not in page:
                return sorted(found)
            scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def delete(self, order_id: str) -> None:
        try:
            self.table.delete_item(Key={"order_id": order_id})
        except (ClientError, BotoCoreError) as exc:
            raise translate_storage_error(exc) from exc
