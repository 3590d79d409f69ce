"""reconciler λ: orders stuck past a deadline are driven on once (moto tables, workflow and queue)."""

from __future__ import annotations

import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from handlers import api_handler, fulfill_order, reconciler
from handlers.business_metrics import ReconcilerAction as Action
from handlers.errors import ConfigurationError, QueueError, TransientStorageError
from handlers.models import OrderStatus, parse_json_decimal
from handlers.order_intake import WorkflowStarter
from handlers.order_queue import OrderQueue
from handlers.order_shape import parse_order
from handlers.reconciler import OrderReconciler, ReconcilerSettings
from handlers.repository import FailedOrderRepository, OrderRepository, utc_iso
from tests.unit.conftest import Tables
from tests.unit.support import (
    FAILED_ORDERS_TABLE,
    ORDERS_TABLE,
    api_event,
    client_error,
    fixture_text,
    get_item,
    queue_bodies,
    response_json,
    seed_order,
    sqs_event,
    sqs_record,
)

RECEIVED_AFTER = 60
PENDING_AFTER = 600
MAX_ATTEMPTS = 3
CONFIG = ReconcilerSettings(
    received_after_seconds=RECEIVED_AFTER, pending_after_seconds=PENDING_AFTER, max_attempts=MAX_ATTEMPTS
)
RECONCILE_VARIABLES = {
    "RECONCILE_RECEIVED_AFTER_SECONDS": str(RECEIVED_AFTER),
    "RECONCILE_PENDING_AFTER_SECONDS": str(PENDING_AFTER),
    "RECONCILE_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
}

RECEIVED = OrderStatus.RECEIVED.value
PENDING = OrderStatus.PENDING_FULFILLMENT.value
FAILED = OrderStatus.FULFILLMENT_FAILED.value
LONG_AGO = "2024-01-01T00:00:00.000Z"  # the due_at seed_order writes: past every deadline


@dataclass
class Env:
    tables: Tables
    state_machine_arn: str
    queue_url: str


@pytest.fixture
def env(tables: Tables, state_machine_arn: str, order_queue_url: str, monkeypatch: pytest.MonkeyPatch) -> Env:
    """Tables, state machine, order queue, and the reconciler's environment pointing at them."""
    for name, value in RECONCILE_VARIABLES.items():
        monkeypatch.setenv(name, value)
    return Env(tables, state_machine_arn, order_queue_url)


def make_reconciler(
    env: Env,
    *,
    dynamodb: Any = None,
    sfn: Any = None,
    workflow: WorkflowStarter | None = None,
    config: ReconcilerSettings = CONFIG,
) -> OrderReconciler:
    dynamodb = dynamodb or env.tables.dynamodb
    return OrderReconciler(
        OrderRepository(ORDERS_TABLE, dynamodb),
        FailedOrderRepository(FAILED_ORDERS_TABLE, dynamodb),
        workflow or WorkflowStarter(env.state_machine_arn, sfn or boto3.client("stepfunctions")),
        OrderQueue(env.queue_url, boto3.client("sqs")),
        config,
    )


def executions(env: Env) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = boto3.client("stepfunctions").list_executions(
        stateMachineArn=env.state_machine_arn
    )["executions"]
    return found


def messages(env: Env) -> list[Any]:
    return queue_bodies(boto3.client("sqs"), env.queue_url)


def order(env: Env, order_id: str) -> dict[str, Any]:
    item = get_item(env.tables.orders, order_id)
    assert item is not None, f"order {order_id} is gone"
    return item


def ago(seconds: int) -> str:
    return utc_iso(datetime.now(UTC) - timedelta(seconds=seconds))


def later(seconds: int) -> datetime:
    """A run ``seconds`` ahead: orders the previous run touched are past a ``seconds`` deadline again."""
    return datetime.now(UTC) + timedelta(seconds=seconds + 1)


def runs_losing_every_message(
    env: Env, reconciler_: OrderReconciler, count: int
) -> tuple[list[Counter[Action]], list[Any]]:
    """``count`` runs, each past the PENDING deadline of the last, with every message it sends
    received and lost (never acknowledged, never fulfilled): no backlog, the order still pending."""
    runs, sent = [], []
    for n in range(count):
        runs.append(reconciler_.run(now=later(PENDING_AFTER * (n + 1))))
        sent += messages(env)
    return runs, sent


class RefusingStart:
    """A Step Functions client whose StartExecution is refused and whose other calls reach moto."""

    def __init__(self, refuse: set[str] | None = None) -> None:
        self._client = boto3.client("stepfunctions")
        self.refuse = refuse  # the order ids refused; None refuses every one

    def start_execution(self, **kwargs: Any) -> Any:
        if self.refuse is None or kwargs["name"] in self.refuse:
            raise client_error("ServiceUnavailable", "StartExecution")
        return self._client.start_execution(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


# --- RECEIVED: start what StartExecution refused, or what never recorded the order ---------------


def test_a_received_order_past_its_due_time_is_started(env: Env) -> None:
    seed_order(env.tables.orders, "o-1", RECEIVED)
    before = datetime.now(UTC)

    actions = make_reconciler(env).run()

    assert actions == Counter({Action.STARTED: 1})
    (execution,) = executions(env)
    assert execution["name"] == "o-1"
    item = order(env, "o-1")
    assert item["status"] == RECEIVED, "the workflow moves it on, not the reconciler"
    assert item["reconcile_attempts"] == 1
    assert item["due_at"] >= utc_iso(before + timedelta(seconds=RECEIVED_AFTER)), "due again later"
    assert "execution_arn" not in item, "nothing but the claim is written"
    started = boto3.client("stepfunctions").describe_execution(executionArn=execution["executionArn"])
    assert json.loads(started["input"]) == {
        "order_id": "o-1",
        "request_body": fixture_text("valid_order.json"),
    }


def test_an_order_not_yet_due_is_untouched(env: Env) -> None:
    seeded = seed_order(env.tables.orders, "o-1", RECEIVED, due_at=utc_iso(later(RECEIVED_AFTER)))

    actions = make_reconciler(env).run()

    assert actions == Counter()
    assert order(env, "o-1") == seeded
    assert executions(env) == []


def test_the_due_time_is_compared_with_the_run_time(env: Env) -> None:
    due = datetime.now(UTC) + timedelta(seconds=30)
    seed_order(env.tables.orders, "o-1", RECEIVED, due_at=utc_iso(due))
    reconciler_ = make_reconciler(env)

    assert reconciler_.run(now=due - timedelta(seconds=1)) == Counter()
    assert reconciler_.run(now=due) == Counter({Action.STARTED: 1})


def test_a_received_order_whose_execution_exists_is_started_again_and_standard_runs_it_once(
    env: Env,
) -> None:
    # The reconciler cannot ask whether an execution runs (EXPRESS cannot be described): it
    # starts the order again. A STANDARD machine answers with the existing execution.
    WorkflowStarter(env.state_machine_arn, boto3.client("stepfunctions")).start("o-1", "{}")
    seed_order(env.tables.orders, "o-1", RECEIVED)

    assert make_reconciler(env).run() == Counter({Action.STARTED: 1})

    assert [e["name"] for e in executions(env)] == ["o-1"]
    assert order(env, "o-1")["reconcile_attempts"] == 1


def test_a_received_order_its_workflow_never_records_is_failed_after_max_attempts_with_a_record(
    env: Env,
) -> None:
    # Its execution timed out, was aborted, or could not record its own failure: no event
    # tells anyone on EXPRESS, and the order itself says it is overdue.
    seed_order(env.tables.orders, "o-1", RECEIVED)
    reconciler_ = make_reconciler(env)

    runs = [reconciler_.run(now=later(RECEIVED_AFTER * (n + 1))) for n in range(MAX_ATTEMPTS + 2)]

    assert runs == [Counter({Action.STARTED: 1})] * MAX_ATTEMPTS + [Counter({Action.FAILED: 1}), Counter()]
    item = order(env, "o-1")
    assert item["status"] == FAILED
    assert item["failure_stage"] == "workflow"
    (reason,) = item["failure_reasons"]
    assert f"did not store or reject it after {MAX_ATTEMPTS} restart(s)" in reason
    assert not {"in_flight", "due_at", "request_body"} & set(item), "out of the in-flight index"
    record = get_item(env.tables.failed, "o-1")
    assert record is not None
    assert record["stage"] == "workflow"
    assert record["reasons"] == [reason]


# --- PENDING_FULFILLMENT: the message was lost ------------------------------------------------


def test_a_stale_pending_order_is_enqueued_again_and_its_claim_recorded(env: Env) -> None:
    seed_order(env.tables.orders, "o-1", PENDING, reconcile_attempts=1)
    before = datetime.now(UTC)

    actions = make_reconciler(env).run()

    assert actions == Counter({Action.ENQUEUED: 1})
    assert messages(env) == [{"order_id": "o-1"}]
    item = order(env, "o-1")
    assert item["status"] == PENDING
    assert item["reconcile_attempts"] == 2
    assert item["updated_at"] >= utc_iso(before)


def test_a_claimed_pending_order_is_due_again_only_after_the_longer_pending_deadline(env: Env) -> None:
    # SQS may still be redelivering the message just sent: not before every redelivery.
    seed_order(env.tables.orders, "o-1", PENDING)
    reconciler_ = make_reconciler(env)
    assert reconciler_.run() == Counter({Action.ENQUEUED: 1})
    messages(env)

    assert reconciler_.run(now=later(RECEIVED_AFTER * 2)) == Counter()
    assert reconciler_.run(now=later(PENDING_AFTER)) == Counter({Action.ENQUEUED: 1})


def test_the_enqueued_message_is_one_fulfill_order_consumes(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FULFILLMENT_SUCCESS_RATE", "1")
    seed_order(env.tables.orders, "o-1", PENDING)
    make_reconciler(env).run()
    (body,) = messages(env)

    response = fulfill_order.handler(sqs_event(sqs_record("m-1", json.dumps(body))), None)

    assert response == {"batchItemFailures": []}
    assert order(env, "o-1")["status"] == "FULFILLED"


def test_after_max_attempts_a_pending_order_becomes_fulfillment_failed_with_a_record(env: Env) -> None:
    seed_order(env.tables.orders, "o-1", PENDING)
    reconciler_ = make_reconciler(env)

    runs, sent = runs_losing_every_message(env, reconciler_, MAX_ATTEMPTS + 2)

    assert runs == [Counter({Action.ENQUEUED: 1})] * MAX_ATTEMPTS + [Counter({Action.FAILED: 1}), Counter()]
    assert sent == [{"order_id": "o-1"}] * MAX_ATTEMPTS
    item = order(env, "o-1")
    assert item["status"] == FAILED
    assert item["failure_stage"] == "fulfillment"
    assert "reconcile_attempts" not in item, "the count is per status; FULFILLMENT_FAILED starts none"
    (reason,) = item["failure_reasons"]
    assert f"after {MAX_ATTEMPTS} reconciliation attempt(s)" in reason
    record = get_item(env.tables.failed, "o-1")
    assert record is not None
    assert record["stage"] == "fulfillment"
    assert record["reasons"] == [reason]


def test_a_received_order_that_never_starts_is_failed_after_max_attempts(env: Env) -> None:
    seed_order(env.tables.orders, "o-1", RECEIVED)
    reconciler_ = make_reconciler(env, sfn=RefusingStart())

    runs = [reconciler_.run(now=later(RECEIVED_AFTER * (n + 1))) for n in range(MAX_ATTEMPTS + 1)]

    assert runs == [Counter({Action.ERROR: 1})] * MAX_ATTEMPTS + [Counter({Action.FAILED: 1})]
    assert executions(env) == []
    item = order(env, "o-1")
    assert item["status"] == FAILED
    assert item["failure_stage"] == "workflow"
    record = get_item(env.tables.failed, "o-1")
    assert record is not None
    assert record["stage"] == "workflow"


class UnwritableFailures(FailedOrderRepository):
    """The failed-orders table refusing writes (throttled, say)."""

    def record(self, order_id: str, stage: Any, reasons: Any, **details: str) -> bool:
        raise TransientStorageError("failed-orders table throttled")


class FulfilledMeanwhile(FailedOrderRepository):
    """The order is fulfilled (a late delivery) between the reconciler's claim and its give-up."""

    def __init__(self, orders: OrderRepository) -> None:
        super().__init__(FAILED_ORDERS_TABLE, boto3.resource("dynamodb"))
        self.orders = orders

    def record(self, order_id: str, stage: Any, reasons: Any, **details: str) -> bool:
        assert self.orders.mark_fulfilled(order_id)
        return super().record(order_id, stage, reasons, **details)


def test_a_give_up_whose_failure_record_cannot_be_written_leaves_the_order_for_the_next_run(
    env: Env,
) -> None:
    seed_order(env.tables.orders, "o-1", PENDING, reconcile_attempts=MAX_ATTEMPTS)
    refusing = make_reconciler(env)
    refusing.failed_orders = UnwritableFailures(FAILED_ORDERS_TABLE, env.tables.dynamodb)

    assert refusing.run() == Counter({Action.ERROR: 1})
    assert order(env, "o-1")["status"] == PENDING, "a final failure needs its record"

    assert make_reconciler(env).run(now=later(PENDING_AFTER)) == Counter({Action.FAILED: 1})
    assert order(env, "o-1")["status"] == FAILED
    assert get_item(env.tables.failed, "o-1") is not None


def test_a_give_up_that_loses_the_race_to_a_fulfillment_withdraws_its_record(env: Env) -> None:
    seed_order(env.tables.orders, "o-1", PENDING, reconcile_attempts=MAX_ATTEMPTS)
    reconciler_ = make_reconciler(env)
    reconciler_.failed_orders = FulfilledMeanwhile(reconciler_.orders)

    assert reconciler_.run() == Counter({Action.SKIPPED: 1})

    assert order(env, "o-1")["status"] == "FULFILLED"
    assert get_item(env.tables.failed, "o-1") is None


def test_a_pending_order_gets_every_attempt_whatever_its_start_cost(env: Env) -> None:
    seed_order(env.tables.orders, "o-1", RECEIVED)
    make_reconciler(env, sfn=RefusingStart()).run()  # one attempt spent on a refused start
    make_reconciler(env).run(now=later(RECEIVED_AFTER))  # started
    orders = OrderRepository(ORDERS_TABLE, env.tables.dynamodb)
    valid = parse_order(parse_json_decimal(fixture_text("valid_order.json")))
    assert orders.store_validated("o-1", valid)

    runs, _ = runs_losing_every_message(env, make_reconciler(env), MAX_ATTEMPTS + 1)

    assert runs == [Counter({Action.ENQUEUED: 1})] * MAX_ATTEMPTS + [Counter({Action.FAILED: 1})]


# --- PENDING behind a backlog -------------------------------------------------------------------


def send_other_orders(env: Env, count: int) -> None:
    sqs = boto3.client("sqs")
    for index in range(count):
        sqs.send_message(QueueUrl=env.queue_url, MessageBody=json.dumps({"order_id": f"other-{index}"}))


def test_a_stale_pending_order_waits_while_the_queue_has_a_backlog_then_is_enqueued(env: Env) -> None:
    seeded = seed_order(env.tables.orders, "o-1", PENDING)
    send_other_orders(env, 3)
    reconciler_ = make_reconciler(env)

    behind_backlog = reconciler_.run()

    assert behind_backlog == Counter({Action.DEFERRED: 1})
    assert order(env, "o-1") == seeded, "not claimed: no attempt spent"
    assert [body["order_id"] for body in messages(env)] == ["other-0", "other-1", "other-2"]

    assert reconciler_.run() == Counter({Action.ENQUEUED: 1})
    assert messages(env) == [{"order_id": "o-1"}]


def test_an_order_out_of_attempts_is_not_failed_while_the_queue_has_a_backlog(env: Env) -> None:
    seeded = seed_order(env.tables.orders, "o-1", PENDING, reconcile_attempts=MAX_ATTEMPTS)
    send_other_orders(env, 1)

    assert make_reconciler(env).run() == Counter({Action.DEFERRED: 1})

    assert order(env, "o-1") == seeded
    assert get_item(env.tables.failed, "o-1") is None


def test_a_backlog_holds_back_only_pending_orders(env: Env) -> None:
    seed_order(env.tables.orders, "o-1", RECEIVED)
    seed_order(env.tables.orders, "o-2", PENDING)
    send_other_orders(env, 1)

    assert make_reconciler(env).run() == Counter({Action.STARTED: 1, Action.DEFERRED: 1})


class UnreadableQueue(OrderQueue):
    def waiting_messages(self) -> int:
        raise QueueError("GetQueueAttributes failed: AccessDenied")


def test_an_unknown_queue_depth_holds_pending_orders_back(env: Env) -> None:
    seeded = seed_order(env.tables.orders, "o-1", PENDING, reconcile_attempts=MAX_ATTEMPTS)
    reconciler_ = make_reconciler(env)
    reconciler_.queue = UnreadableQueue(env.queue_url, boto3.client("sqs"))

    assert reconciler_.run() == Counter({Action.DEFERRED: 1})
    assert order(env, "o-1") == seeded


def test_waiting_messages_counts_visible_and_delayed_not_in_flight(env: Env) -> None:
    sqs = boto3.client("sqs")
    send_other_orders(env, 2)
    sqs.send_message(QueueUrl=env.queue_url, MessageBody="{}", DelaySeconds=60)
    queue = OrderQueue(env.queue_url, sqs)
    assert queue.waiting_messages() == 3

    sqs.receive_message(QueueUrl=env.queue_url, MaxNumberOfMessages=1)

    assert queue.waiting_messages() == 2


@pytest.mark.parametrize("status", ["FULFILLED", "REJECTED", FAILED])
def test_final_orders_are_never_touched(env: Env, status: str) -> None:
    seeded = seed_order(env.tables.orders, "o-1", status)

    assert make_reconciler(env).run(now=later(PENDING_AFTER)) == Counter()

    assert order(env, "o-1") == seeded
    assert executions(env) == []
    assert messages(env) == []


def test_a_keyed_retry_of_an_order_the_reconciler_gave_up_on_starts_no_execution(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The client's first POST is recorded but StartExecution is refused, and keeps being
    # refused until the reconciler gives up. A retry with the same key must not start a
    # workflow for an order that is already final: StoreOrder would refuse it and the
    # execution could only fail.
    def post() -> dict[str, Any]:
        event = api_event("POST", "/order", fixture_text("valid_order.json"), {"Idempotency-Key": "k-1"})
        response = api_handler.handler(event, None)
        assert response["statusCode"] == 202, response
        body: dict[str, Any] = response_json(response)
        return body

    monkeypatch.setenv("STEP_FUNCTION_ARN", env.state_machine_arn.rsplit(":", 1)[0] + ":dofs-no-such-machine")
    order_id = post()["order_id"]
    reconciler_ = make_reconciler(env, sfn=RefusingStart())
    for n in range(MAX_ATTEMPTS + 1):
        reconciler_.run(now=later(RECEIVED_AFTER * (n + 2)))
    assert order(env, order_id)["status"] == FAILED
    monkeypatch.setenv("STEP_FUNCTION_ARN", env.state_machine_arn)

    retried = post()

    assert retried["order_id"] == order_id
    assert retried["status"] == FAILED
    assert retried["execution_arn"] is None
    assert executions(env) == []


# --- acting once ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [RECEIVED, PENDING])
def test_two_runs_in_a_row_act_once(env: Env, status: str) -> None:
    seed_order(env.tables.orders, "o-1", status)
    reconciler_ = make_reconciler(env)

    first = reconciler_.run()
    second = reconciler_.run()

    expected = Action.STARTED if status == RECEIVED else Action.ENQUEUED
    assert first == Counter({expected: 1})
    assert second == Counter()
    assert order(env, "o-1")["reconcile_attempts"] == 1
    assert len(executions(env)) == (1 if status == RECEIVED else 0)
    assert len(messages(env)) == (1 if status == PENDING else 0)


class _RacingTable:
    """A moto table as DynamoDB behaves for concurrent writers, with every reader held at one point.

    Each ``get_item`` waits until every reconciler has read the order, so all of them act on
    the same ``updated_at``. Writes are serialised: DynamoDB's conditional writes are atomic,
    moto's are not across threads.
    """

    def __init__(self, table: Any, write_lock: threading.Lock, readers: threading.Barrier | None) -> None:
        self._table = table
        self._write_lock = write_lock
        self._readers = readers

    def get_item(self, **kwargs: Any) -> Any:
        response = self._table.get_item(**kwargs)
        if self._readers is not None:
            self._readers.wait()
        return response

    def update_item(self, **kwargs: Any) -> Any:
        with self._write_lock:
            return self._table.update_item(**kwargs)

    def put_item(self, **kwargs: Any) -> Any:
        with self._write_lock:
            return self._table.put_item(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)


class RacingResource:
    def __init__(self, write_lock: threading.Lock, readers: threading.Barrier) -> None:
        self._dynamodb = boto3.session.Session().resource("dynamodb")  # one per thread
        self._write_lock = write_lock
        self._readers = readers

    def Table(self, name: str) -> _RacingTable:  # noqa: N802 - boto3's spelling
        readers = self._readers if name == ORDERS_TABLE else None
        return _RacingTable(self._dynamodb.Table(name), self._write_lock, readers)


@pytest.mark.parametrize("status", [RECEIVED, PENDING])
def test_two_reconcilers_at_once_on_one_stale_order_act_once(env: Env, status: str) -> None:
    seed_order(env.tables.orders, "o-1", status)
    write_lock = threading.Lock()
    readers = threading.Barrier(2, timeout=10)
    reconcilers = [
        make_reconciler(
            env,
            dynamodb=RacingResource(write_lock, readers),
            sfn=boto3.session.Session().client("stepfunctions"),
        )
        for _ in range(2)
    ]

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(r.run) for r in reconcilers]
        results = [future.result(timeout=30) for future in futures]

    expected = Action.STARTED if status == RECEIVED else Action.ENQUEUED
    acted, held_back = sorted(results, key=lambda result: expected not in result)
    assert acted == Counter({expected: 1})
    # The loser's claim fails, or it already sees the winner's execution (or message) and
    # holds back before claiming: either way it does nothing.
    assert len(held_back) == 1 and set(held_back) <= {Action.SKIPPED, Action.DEFERRED}
    assert order(env, "o-1")["reconcile_attempts"] == 1
    assert len(executions(env)) == (1 if status == RECEIVED else 0)
    assert len(messages(env)) == (1 if status == PENDING else 0)


# --- one order's failure ----------------------------------------------------------------------


def test_an_order_that_raises_is_counted_as_an_error_and_the_others_are_reconciled(env: Env) -> None:
    seed_order(env.tables.orders, "o-1", RECEIVED)
    corrupt = seed_order(env.tables.orders, "o-2", RECEIVED, due_at="2024-01-01T00:00:01.000Z")
    del corrupt["request_body"]
    env.tables.orders.put_item(Item=corrupt)  # a record without the body to start it with
    seed_order(env.tables.orders, "o-3", RECEIVED, due_at="2024-01-01T00:00:02.000Z")
    seed_order(env.tables.orders, "o-4", PENDING)

    actions = make_reconciler(env).run()

    assert actions == Counter({Action.STARTED: 2, Action.ERROR: 1, Action.ENQUEUED: 1})
    assert sorted(e["name"] for e in executions(env)) == ["o-1", "o-3"]
    assert messages(env) == [{"order_id": "o-4"}]


def test_an_order_whose_start_was_refused_is_started_by_a_later_run(env: Env) -> None:
    for order_id in ("o-1", "o-2"):
        seed_order(env.tables.orders, order_id, RECEIVED)

    first = make_reconciler(env, sfn=RefusingStart(refuse={"o-1"})).run()
    second = make_reconciler(env).run(now=later(RECEIVED_AFTER))

    assert first == Counter({Action.ERROR: 1, Action.STARTED: 1})
    assert second == Counter({Action.STARTED: 2}), "o-2 again: STANDARD answers with its execution"
    assert sorted(e["name"] for e in executions(env)) == ["o-1", "o-2"]
    assert order(env, "o-1")["reconcile_attempts"] == 2


# --- the time budget -----------------------------------------------------------------------------


def test_a_run_short_of_time_defers_every_order_and_changes_nothing(env: Env) -> None:
    seeded = [seed_order(env.tables.orders, f"o-{i}", status) for i, status in enumerate((RECEIVED, PENDING))]

    actions = make_reconciler(env).run(millis_left=lambda: reconciler.STOP_MARGIN_MILLIS - 1)

    assert actions == Counter({Action.DEFERRED: 2})
    assert [order(env, item["order_id"]) for item in seeded] == seeded
    assert executions(env) == [] and messages(env) == []


def test_a_run_stops_taking_orders_when_its_budget_runs_out(env: Env) -> None:
    for index in range(3):
        seed_order(env.tables.orders, f"o-{index}", PENDING, due_at=f"2024-01-01T00:00:0{index}.000Z")
    budget = iter([60_000, 60_000, 1_000])

    actions = make_reconciler(env).run(millis_left=lambda: next(budget))

    assert actions == Counter({Action.ENQUEUED: 2, Action.DEFERRED: 1})
    assert messages(env) == [{"order_id": "o-0"}, {"order_id": "o-1"}], "longest overdue first, across shards"
    assert "reconcile_attempts" not in order(env, "o-2")


def test_the_handler_reads_its_budget_from_the_lambda_context(env: Env) -> None:
    seed_order(env.tables.orders, "o-1", PENDING)

    class AlmostTimedOut:
        def get_remaining_time_in_millis(self) -> int:
            return 500

    summary = reconciler.handler({}, AlmostTimedOut())

    assert summary["deferred"] == 1
    assert messages(env) == []


# --- the handler --------------------------------------------------------------------------------


def test_the_handler_returns_a_count_for_every_action(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    seed_order(env.tables.orders, "to-start", RECEIVED)
    seed_order(env.tables.orders, "to-enqueue", PENDING)
    seed_order(env.tables.orders, "to-fail", PENDING, reconcile_attempts=MAX_ATTEMPTS)
    seed_order(env.tables.orders, "too-recent", RECEIVED, due_at=utc_iso(later(60)))

    summary = reconciler.handler({}, None)

    assert summary == {"started": 1, "enqueued": 1, "failed": 1, "skipped": 0, "error": 0, "deferred": 0}
    assert [e["name"] for e in executions(env)] == ["to-start"]
    assert messages(env) == [{"order_id": "to-enqueue"}]
    assert order(env, "to-fail")["status"] == FAILED
    assert "reconcile_attempts" not in order(env, "too-recent")


@pytest.mark.parametrize("name", sorted(RECONCILE_VARIABLES))
@pytest.mark.parametrize("value", [None, "0", "soon"], ids=["missing", "zero", "not a number"])
def test_the_handler_refuses_a_bad_reconcile_setting_by_name_and_changes_nothing(
    env: Env, monkeypatch: pytest.MonkeyPatch, name: str, value: str | None
) -> None:
    seeded = seed_order(env.tables.orders, "o-1", RECEIVED)
    if value is None:
        monkeypatch.delenv(name)
    else:
        monkeypatch.setenv(name, value)

    with pytest.raises(ConfigurationError, match=name):
        reconciler.handler({}, None)

    assert order(env, "o-1") == seeded
    assert executions(env) == []


@pytest.mark.parametrize(
    "name", ["ORDERS_TABLE_NAME", "FAILED_ORDERS_TABLE_NAME", "STEP_FUNCTION_ARN", "ORDER_QUEUE_URL"]
)
def test_the_handler_names_any_other_missing_variable(
    env: Env, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.delenv(name)

    with pytest.raises(ConfigurationError, match=name):
        reconciler.handler({}, None)


def test_settings_from_the_environment(env: Env) -> None:
    assert ReconcilerSettings.from_environment() == CONFIG


def test_nothing_to_do_is_all_zeros(env: Env) -> None:
    summary = reconciler.handler({}, None)

    assert set(summary) == {action.value for action in Action}
    assert set(summary.values()) == {0}
