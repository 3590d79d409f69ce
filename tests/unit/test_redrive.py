"""ops redrive: final fulfillment failures go back on the queue once, and what moved is reported."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from handlers.errors import QueueError, TransientStorageError
from handlers.models import DUE_AT, IN_FLIGHT_SHARD, OrderStatus, in_flight_shard
from handlers.order_queue import OrderQueue
from handlers.repository import FailedOrderRepository, OrderRepository, utc_iso
from ops import cli
from ops.redrive import REDRIVE_DUE, OrderRedrive, RedriveReport
from tests.unit.conftest import Tables
from tests.unit.support import FAILED_ORDERS_TABLE, ORDERS_TABLE, get_item, queue_bodies, seed_order

FAILED = OrderStatus.FULFILLMENT_FAILED.value
PENDING = OrderStatus.PENDING_FULFILLMENT.value
VALIDATED_AT = "2024-01-01T00:00:00.000Z"


class UndeletableFailures(FailedOrderRepository):
    def delete(self, order_id: str) -> None:
        raise TransientStorageError("failed-orders table throttled")


class RefusingQueue(OrderQueue):
    def __init__(self, refuse: set[str], queue_url: str) -> None:
        super().__init__(queue_url, boto3.client("sqs"))
        self.refuse = refuse

    def enqueue(self, order_id: str) -> str:
        if order_id in self.refuse:
            raise QueueError(f"SendMessage refused for {order_id}")
        return super().enqueue(order_id)


def seed_failed(tables: Tables, order_id: str, *, validated: bool = True) -> None:
    fields: dict[str, Any] = {"failure_stage": "fulfillment", "failure_reasons": ["declined"]}
    if validated:
        fields["validated_at"] = VALIDATED_AT
    seed_order(tables.orders, order_id, FAILED, **fields)
    tables.failed.put_item(Item={"order_id": order_id, "stage": "fulfillment", "reasons": ["declined"]})


def make_redrive(
    tables: Tables,
    queue_url: str,
    *,
    failed_orders: FailedOrderRepository | None = None,
    queue: OrderQueue | None = None,
) -> OrderRedrive:
    return OrderRedrive(
        OrderRepository(ORDERS_TABLE, tables.dynamodb),
        failed_orders or FailedOrderRepository(FAILED_ORDERS_TABLE, tables.dynamodb),
        queue or OrderQueue(queue_url, boto3.client("sqs")),
    )


def test_a_failed_validated_order_is_reopened_enqueued_and_its_record_removed(
    tables: Tables, order_queue_url: str
) -> None:
    seed_failed(tables, "o-1")

    report = make_redrive(tables, order_queue_url).redrive()

    assert report == RedriveReport(redriven=["o-1"])
    item = get_item(tables.orders, "o-1")
    assert item is not None
    assert item["status"] == PENDING
    assert item["previous_failures"][0]["failure_reasons"] == ["declined"]
    assert get_item(tables.failed, "o-1") is None
    assert queue_bodies(boto3.client("sqs"), order_queue_url) == [{"order_id": "o-1"}]


def test_a_redriven_order_is_back_in_flight_due_after_an_hour(tables: Tables, order_queue_url: str) -> None:
    seed_failed(tables, "o-1")
    assert not {IN_FLIGHT_SHARD, DUE_AT} & set(get_item(tables.orders, "o-1") or {})

    started = datetime.now(UTC)
    make_redrive(tables, order_queue_url).redrive()
    finished = datetime.now(UTC)

    item = get_item(tables.orders, "o-1")
    assert item is not None
    assert item[IN_FLIGHT_SHARD] == in_flight_shard("o-1")
    assert utc_iso(started + REDRIVE_DUE) <= item[DUE_AT] <= utc_iso(finished + REDRIVE_DUE)
    assert tables.order_repository().due_ids(finished + REDRIVE_DUE) == ["o-1"]


def test_only_fulfillment_and_workflow_failures_are_listed_not_rejections(
    tables: Tables, order_queue_url: str
) -> None:
    seed_failed(tables, "o-fulfillment")
    seed_order(tables.orders, "o-workflow", FAILED, failure_stage="workflow", validated_at=VALIDATED_AT)
    tables.failed.put_item(Item={"order_id": "o-workflow", "stage": "workflow", "reasons": ["timed out"]})
    seed_order(tables.orders, "o-rejected", OrderStatus.REJECTED.value, failure_stage="validation")
    tables.failed.put_item(Item={"order_id": "o-rejected", "stage": "validation", "reasons": ["total"]})

    redrive = make_redrive(tables, order_queue_url)

    assert redrive.failed_order_ids() == ["o-fulfillment", "o-workflow"]
    assert redrive.redrive().redriven == ["o-fulfillment", "o-workflow"]
    rejected = get_item(tables.orders, "o-rejected")
    assert rejected is not None and rejected["status"] == OrderStatus.REJECTED.value


def test_a_second_run_moves_nothing(tables: Tables, order_queue_url: str) -> None:
    seed_failed(tables, "o-1")
    redrive = make_redrive(tables, order_queue_url)
    redrive.redrive()

    second = redrive.redrive(["o-1"])

    assert second.redriven == []
    assert second.skipped == {"o-1": f"it is {PENDING}"}
    assert len(queue_bodies(boto3.client("sqs"), order_queue_url)) == 1


def test_an_order_never_validated_is_reported_not_moved(tables: Tables, order_queue_url: str) -> None:
    seed_failed(tables, "o-1", validated=False)

    report = make_redrive(tables, order_queue_url).redrive()

    assert report.redriven == []
    assert "never validated" in report.skipped["o-1"]
    item = get_item(tables.orders, "o-1")
    assert item is not None and item["status"] == FAILED
    assert get_item(tables.failed, "o-1") is not None


def test_a_dry_run_reports_and_changes_nothing(tables: Tables, order_queue_url: str) -> None:
    seed_failed(tables, "o-1")
    before = get_item(tables.orders, "o-1")

    report = make_redrive(tables, order_queue_url).redrive(dry_run=True)

    assert report.redriven == ["o-1"]
    assert report.lines(dry_run=True)[0] == "would redrive 1 order(s): o-1"
    assert get_item(tables.orders, "o-1") == before
    assert queue_bodies(boto3.client("sqs"), order_queue_url) == []


def test_one_orders_failed_send_is_reported_and_the_others_still_move(
    tables: Tables, order_queue_url: str
) -> None:
    for order_id in ("o-1", "o-2"):
        seed_failed(tables, order_id)
    queue = RefusingQueue({"o-1"}, order_queue_url)

    report = make_redrive(tables, order_queue_url, queue=queue).redrive()

    assert report.redriven == ["o-2"]
    assert report.errors["o-1"].startswith("reopened, but QueueError: SendMessage refused")
    assert "error o-1: reopened, but QueueError" in "\n".join(report.lines())
    reopened = get_item(tables.orders, "o-1")
    assert reopened is not None
    assert reopened["status"] == PENDING, "left for the reconciler to enqueue, not lost"
    assert queue_bodies(boto3.client("sqs"), order_queue_url) == [{"order_id": "o-2"}]


def test_a_record_that_cannot_be_deleted_still_sends_the_order_and_is_reported(
    tables: Tables, order_queue_url: str
) -> None:
    seed_failed(tables, "o-1")
    undeletable = UndeletableFailures(FAILED_ORDERS_TABLE, tables.dynamodb)

    report = make_redrive(tables, order_queue_url, failed_orders=undeletable).redrive()

    assert report.redriven == []
    assert "TransientStorageError" in report.errors["o-1"]
    assert queue_bodies(boto3.client("sqs"), order_queue_url) == [{"order_id": "o-1"}]


def test_the_command_exits_1_and_prints_the_report_when_an_order_fails(
    tables: Tables, order_queue_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for order_id in ("o-1", "o-2"):
        seed_failed(tables, order_id)
    outputs = tmp_path / "outputs.json"
    outputs.write_text(
        json.dumps(
            {
                "orders_table_name": ORDERS_TABLE,
                "failed_orders_table_name": FAILED_ORDERS_TABLE,
                "order_queue_url": order_queue_url,
                "order_dlq_url": order_queue_url + "-dlq",
            }
        )
    )
    monkeypatch.setattr(cli, "FailedOrderRepository", UndeletableFailures)
    out = io.StringIO()

    code = cli.main(["redrive", "--outputs", str(outputs), "--order-id", "o-1"], out=out)

    assert code == 1
    assert out.getvalue().splitlines() == [
        "redriven 0 order(s)",
        "error o-1: reopened, but TransientStorageError: failed-orders table throttled",
    ]
    untouched = get_item(tables.orders, "o-2")
    assert untouched is not None and untouched["status"] == FAILED
