"""Business metrics: each handler path prints the EMF lines handlers.business_metrics declares,
once per event, even when the path is replayed (a retried task, a redelivered message)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from handlers import api_handler, dlq_processor, fulfill_order, metrics, order_storage, reconciler
from handlers.business_metrics import NAMESPACE, SERVICE_DIMENSION, SHAPES, BusinessMetric
from handlers.errors import TransientStorageError
from handlers.models import OrderStatus
from handlers.repository import FailedOrderRepository, utc_iso
from tests.unit.conftest import Tables
from tests.unit.support import (
    api_event,
    emitted_metrics,
    metric_total,
    order_message,
    response_json,
    seed_order,
    sqs_event,
    sqs_record,
)

SERVICE = "dofs-test"  # ENVIRONMENT is "test" in the handlers' environment
PENDING = OrderStatus.PENDING_FULFILLMENT.value
RECEIVED = OrderStatus.RECEIVED.value
ACCEPTED_SECONDS_AGO = 5
MAX_ATTEMPTS = 3


@pytest.fixture
def env(
    tables: Tables, state_machine_arn: str, order_queue_url: str, monkeypatch: pytest.MonkeyPatch
) -> Tables:
    monkeypatch.setenv("RECONCILE_RECEIVED_AFTER_SECONDS", "60")
    monkeypatch.setenv("RECONCILE_PENDING_AFTER_SECONDS", "600")
    monkeypatch.setenv("RECONCILE_MAX_ATTEMPTS", str(MAX_ATTEMPTS))
    return tables


def printed(capsys: pytest.CaptureFixture[str], run: Callable[[], object]) -> str:
    capsys.readouterr()
    run()
    return capsys.readouterr().out


def seed_accepted_earlier(tables: Tables, order_id: str, status: str, **fields: Any) -> None:
    created = datetime.now(UTC) - timedelta(seconds=ACCEPTED_SECONDS_AGO)
    seed_order(tables.orders, order_id, status, created_at=utc_iso(created), **fields)


def assert_latency_of_one_order(out: str) -> None:
    (latency,) = [m for m in emitted_metrics(out) if m.name == BusinessMetric.ORDER_LATENCY]
    (value,) = latency.values
    assert latency.unit == "Milliseconds"
    assert latency.dimensions == {SERVICE_DIMENSION: SERVICE}
    assert ACCEPTED_SECONDS_AGO * 1000 <= value < (ACCEPTED_SECONDS_AGO + 60) * 1000


def post(body: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return api_handler.handler(api_event("POST", "/order", body, headers), None)


def fulfill(order_id: str, message_id: str = "m-1") -> dict[str, Any]:
    return fulfill_order.handler(sqs_event(sqs_record(message_id, order_message(order_id))), None)


def dead_letter(order_id: str) -> dict[str, Any]:
    return dlq_processor.handler(sqs_event(sqs_record("m-1", order_message(order_id), 4)), None)


def store(event: dict[str, Any]) -> dict[str, Any]:
    return order_storage.handler(event, None)


def reconcile() -> dict[str, int]:
    return reconciler.handler({}, None)


# --- the API ---------------------------------------------------------------------------------


def test_a_new_order_counts_once_as_accepted(
    env: Tables, valid_order_text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = printed(capsys, lambda: post(valid_order_text, {"Idempotency-Key": "k-1"}))

    (accepted,) = emitted_metrics(out)
    assert accepted.namespace == NAMESPACE
    assert (accepted.name, accepted.unit, accepted.values) == ("OrdersAccepted", "Count", (1,))
    assert accepted.dimensions == {SERVICE_DIMENSION: SERVICE}


def test_an_idempotent_replay_is_not_accepted_again(
    env: Tables, valid_order_text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    first = post(valid_order_text, {"Idempotency-Key": "k-1"})

    out = printed(capsys, lambda: post(valid_order_text, {"Idempotency-Key": "k-1"}))

    assert response_json(first)["order_id"]
    assert emitted_metrics(out) == []


def test_an_order_refused_at_the_edge_for_its_shape_counts_as_rejected(
    env: Tables, capsys: pytest.CaptureFixture[str]
) -> None:
    out = printed(capsys, lambda: post(json.dumps({"customer_id": ""})))

    assert metric_total(out, "OrdersRejected") == 1
    assert metric_total(out, "OrdersAccepted") == 0


def test_a_request_refused_for_anything_but_the_orders_content_counts_nothing(
    env: Tables, valid_order_text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A wrong content type is the client's mistake, not an order DOFS rejected."""
    event = api_event("POST", "/order", valid_order_text, content_type="text/plain")

    out = printed(capsys, lambda: api_handler.handler(event, None))

    assert emitted_metrics(out) == []


# --- the workflow's writes -------------------------------------------------------------------


def test_a_rejection_counts_once_with_its_latency_even_when_the_task_is_retried(
    env: Tables, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_accepted_earlier(env, "o-1", RECEIVED)
    event = {"operation": "record_rejection", "order_id": "o-1", "reasons": ["total does not add up"]}

    out = printed(capsys, lambda: store(event))
    retried = printed(capsys, lambda: store(event))

    assert metric_total(out, "OrdersRejected") == 1
    assert_latency_of_one_order(out)
    assert emitted_metrics(retried) == []


def test_a_workflow_failure_counts_once_by_stage(env: Tables, capsys: pytest.CaptureFixture[str]) -> None:
    seed_accepted_earlier(env, "o-1", RECEIVED)
    event = {"operation": "record_workflow_failure", "order_id": "o-1", "error": "States.Timeout"}

    out = printed(capsys, lambda: store(event))
    retried = printed(capsys, lambda: store(event))

    (failed,) = [m for m in emitted_metrics(out) if m.name == "OrdersFailed"]
    assert failed.dimensions == {SERVICE_DIMENSION: SERVICE, "stage": "workflow"}
    assert failed.values == (1,)
    assert_latency_of_one_order(out)
    assert emitted_metrics(retried) == []


# --- fulfillment and the DLQ -----------------------------------------------------------------


def test_a_fulfilled_order_counts_an_attempt_and_a_fulfillment_once(
    env: Tables, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FULFILLMENT_SUCCESS_RATE", "1")
    seed_accepted_earlier(env, "o-1", PENDING)

    out = printed(capsys, lambda: fulfill("o-1"))
    redelivered = printed(capsys, lambda: fulfill("o-1", "m-2"))

    assert metric_total(out, "FulfillmentAttempts") == 1
    assert metric_total(out, "OrdersFulfilled") == 1
    assert_latency_of_one_order(out)
    assert emitted_metrics(redelivered) == [], "a redelivery of a final order is neither attempt nor event"


def test_a_failed_attempt_counts_as_an_attempt_only(
    env: Tables, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FULFILLMENT_SUCCESS_RATE", "0")
    seed_accepted_earlier(env, "o-1", PENDING)

    out = printed(capsys, lambda: fulfill("o-1"))

    assert {m.name for m in emitted_metrics(out)} == {"FulfillmentAttempts"}
    assert metric_total(out, "FulfillmentAttempts") == 1


def test_one_batch_prints_one_line_per_dimension_set_with_every_value(
    env: Tables, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FULFILLMENT_SUCCESS_RATE", "1")
    for order_id in ("o-1", "o-2", "o-3"):
        seed_accepted_earlier(env, order_id, PENDING)
    event = sqs_event(*(sqs_record(f"m-{n}", order_message(f"o-{n}")) for n in (1, 2, 3)))

    out = printed(capsys, lambda: fulfill_order.handler(event, None))

    assert len([line for line in out.splitlines() if '"_aws"' in line]) == 1
    assert metric_total(out, "OrdersFulfilled") == 3
    (latency,) = [m for m in emitted_metrics(out) if m.name == "OrderLatency"]
    assert len(latency.values) == 3


def test_a_dead_letter_counts_the_order_failed_at_fulfillment_once(
    env: Tables, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_accepted_earlier(env, "o-1", PENDING)

    out = printed(capsys, lambda: dead_letter("o-1"))
    again = printed(capsys, lambda: dead_letter("o-1"))

    (failed,) = [m for m in emitted_metrics(out) if m.name == "OrdersFailed"]
    assert failed.dimensions == {SERVICE_DIMENSION: SERVICE, "stage": "fulfillment"}
    assert_latency_of_one_order(out)
    assert emitted_metrics(again) == []


def test_a_dead_letter_for_an_order_fulfilled_meanwhile_counts_nothing(
    env: Tables, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_accepted_earlier(env, "o-1", OrderStatus.FULFILLED.value)

    out = printed(capsys, lambda: dead_letter("o-1"))

    assert emitted_metrics(out) == []


# --- the reconciler --------------------------------------------------------------------------


def test_a_reconciler_give_up_counts_the_action_and_the_failed_order(
    env: Tables, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_accepted_earlier(env, "o-1", PENDING, reconcile_attempts=MAX_ATTEMPTS)

    out = printed(capsys, reconcile)
    next_run = printed(capsys, reconcile)

    found = {(m.name, tuple(sorted(m.dimensions.items())), m.values) for m in emitted_metrics(out)}
    assert ("ReconcilerActions", (("action", "failed"), (SERVICE_DIMENSION, SERVICE)), (1,)) in found
    assert ("OrdersFailed", (("service", SERVICE), ("stage", "fulfillment")), (1,)) in found
    assert_latency_of_one_order(out)
    assert emitted_metrics(next_run) == []


def test_reconciler_actions_are_counted_by_action(env: Tables, capsys: pytest.CaptureFixture[str]) -> None:
    for order_id in ("o-1", "o-2"):
        seed_accepted_earlier(env, order_id, PENDING)

    out = printed(capsys, reconcile)

    assert metric_total(out, "ReconcilerActions", action="enqueued") == 2
    assert metric_total(out, "OrdersFailed") == 0


# --- the contract ----------------------------------------------------------------------------


def every_path(env: Tables, monkeypatch: pytest.MonkeyPatch, valid_order_text: str) -> None:
    post(valid_order_text)
    post(json.dumps({"customer_id": ""}))
    monkeypatch.setenv("FULFILLMENT_SUCCESS_RATE", "1")
    seed_accepted_earlier(env, "fulfilled", PENDING)
    fulfill("fulfilled")
    seed_accepted_earlier(env, "dead", PENDING)
    dead_letter("dead")
    seed_accepted_earlier(env, "given-up", PENDING, reconcile_attempts=MAX_ATTEMPTS)
    reconcile()


def test_every_business_metric_is_emitted_with_exactly_its_declared_unit_and_dimensions(
    env: Tables, monkeypatch: pytest.MonkeyPatch, valid_order_text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The alarms and the dashboard name these: a metric missing, or emitted with other
    dimensions, would leave one of them watching nothing."""
    out = printed(capsys, lambda: every_path(env, monkeypatch, valid_order_text))

    found = emitted_metrics(out)
    assert {m.name for m in found} == {metric.value for metric in BusinessMetric}
    for emitted in found:
        shape = SHAPES[BusinessMetric(emitted.name)]
        assert emitted.namespace == NAMESPACE
        assert emitted.unit == shape.unit, emitted
        assert set(emitted.dimensions) == {SERVICE_DIMENSION, *shape.extra_dimensions}, emitted
        assert emitted.dimensions[SERVICE_DIMENSION] == SERVICE


@pytest.mark.parametrize(
    ("metric", "dimensions"),
    [
        (BusinessMetric.ORDERS_FAILED, {}),
        (BusinessMetric.ORDERS_ACCEPTED, {"stage": "workflow"}),
        (BusinessMetric.RECONCILER_ACTIONS, {"stage": "workflow"}),
    ],
)
def test_a_metric_recorded_with_other_dimensions_is_refused(
    metric: BusinessMetric, dimensions: dict[str, str]
) -> None:
    with pytest.raises(ValueError, match=metric.value):
        metrics.record(metric, 1, **dimensions)


def test_outside_an_invocation_nothing_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    out = printed(capsys, lambda: metrics.record(BusinessMetric.ORDERS_ACCEPTED))

    assert out == ""


def test_metrics_recorded_before_an_error_are_still_printed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """What happened to an order happened: its replay will not count it again."""
    monkeypatch.setenv("ENVIRONMENT", "test")

    def fail_after_recording() -> None:
        with metrics.published():
            metrics.record(BusinessMetric.ORDERS_FULFILLED)
            raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        printed(capsys, fail_after_recording)

    assert metric_total(capsys.readouterr().out, "OrdersFulfilled") == 1


def test_more_values_than_one_emf_object_holds_are_split_keeping_their_dimensions(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """EMF takes at most 100 values per metric in one object; a batch of 10,000 messages
    (the queue's largest batch size) would give more."""
    monkeypatch.setenv("ENVIRONMENT", "test")

    def record_many() -> None:
        with metrics.published():
            for _ in range(150):
                metrics.record(BusinessMetric.ORDERS_FAILED, stage="fulfillment")

    out = printed(capsys, record_many)

    failed = [m for m in emitted_metrics(out) if m.name == "OrdersFailed"]
    assert [len(m.values) for m in failed] == [100, 50]
    assert all(m.dimensions == {SERVICE_DIMENSION: SERVICE, "stage": "fulfillment"} for m in failed)


def test_a_rejection_whose_record_write_failed_is_counted_once_over_the_retry(
    env: Tables, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The status moves first: the retry finds the order REJECTED already and moves nothing,
    so the count belongs to the attempt that moved it, error or not."""
    seed_accepted_earlier(env, "o-1", RECEIVED)
    event = {"operation": "record_rejection", "order_id": "o-1", "reasons": ["total does not add up"]}
    original = FailedOrderRepository.record
    failing_once = iter([True])

    def record(self: FailedOrderRepository, *args: Any, **kwargs: Any) -> bool:
        if next(failing_once, False):
            raise TransientStorageError("throttled")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(FailedOrderRepository, "record", record)
    capsys.readouterr()
    with pytest.raises(TransientStorageError):
        store(event)
    store(event)

    assert metric_total(capsys.readouterr().out, "OrdersRejected") == 1
