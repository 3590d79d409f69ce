"""Handler errors on the local stack look the way AWS shows them."""

from __future__ import annotations

import json
import logging
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest

from handlers.models import OrderStatus
from local.pulumi_runner import PROJECT_ROOT
from local.stack import LocalStack, LocalStackOptions
from tests.integration.stack_process import FAST_RETRIES, http, wait_for_terminal

VALID_ORDER = (PROJECT_ROOT / "tests/fixtures/valid_order.json").read_bytes()


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    options = LocalStackOptions(
        api_port=0, aws_port=0, config={**FAST_RETRIES, "dofs:fulfillmentSuccessRate": "1"}
    )
    with LocalStack(options) as running:
        yield running


def test_an_unhandled_api_error_is_a_502_with_the_traceback_in_the_log(
    stack: LocalStack, caplog: pytest.LogCaptureFixture
) -> None:
    stack.runtime.inject_failure("dofs-api-handler-dev", RuntimeError("database on fire"))

    with caplog.at_level(logging.WARNING, logger="dofs.local"):
        failed = http("GET", f"{stack.api_url}/health")
        recovered = http("GET", f"{stack.api_url}/health")

    assert failed.status == 502
    assert failed.body["error"] == "internal_error"  # the DEFAULT_5XX gateway response's shape
    assert recovered.status == 200
    raised = [r for r in caplog.records if r.name == "dofs.local.lambda"]
    assert raised and raised[0].exc_info is not None
    assert "database on fire" in str(raised[0].exc_info[1])


def test_a_failed_fulfillment_batch_is_retried_from_the_queue(stack: LocalStack) -> None:
    stack.runtime.inject_failure("dofs-fulfill-order-dev", RuntimeError("crashed mid-batch"))
    accepted = http("POST", f"{stack.api_url}/order", VALID_ORDER)
    assert accepted.status == 202

    order_id = accepted.body["order_id"]
    order = wait_for_terminal(stack.api_url, order_id)

    assert order["status"] == OrderStatus.FULFILLED
    fulfilled = [
        i
        for i in stack.runtime.invocations
        if i.function_name == "dofs-fulfill-order-dev" and order_id in str(i.event)
    ]
    receive_counts = [i.event["Records"][0]["attributes"]["ApproximateReceiveCount"] for i in fulfilled]
    assert [i.error_type for i in fulfilled] == ["RuntimeError", None]
    assert receive_counts == ["1", "2"]


def test_each_order_is_handed_to_fulfill_order_once(stack: LocalStack) -> None:
    order_ids = []
    for _ in range(10):
        accepted = http("POST", f"{stack.api_url}/order", VALID_ORDER, {"Idempotency-Key": str(uuid.uuid4())})
        order_ids.append(accepted.body["order_id"])

    finals = [wait_for_terminal(stack.api_url, order_id)["status"] for order_id in order_ids]

    assert finals == [OrderStatus.FULFILLED] * 10
    deliveries = Counter(
        json.loads(record["body"])["order_id"]
        for invocation in list(stack.runtime.invocations)
        if invocation.function_name == "dofs-fulfill-order-dev"
        for record in invocation.event["Records"]
    )
    assert {order_id: deliveries[order_id] for order_id in order_ids} == dict.fromkeys(order_ids, 1)
