"""Orders over real HTTP through the local stack, to their final state in the emulator."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path

from handlers.models import OrderStatus
from tests.integration.stack_process import StackProcess, http, wait_until
from tests.support.emulator import wait_for_execution

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MAX_RECEIVE_COUNT = 3  # Pulumi.dev.yaml


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def execution_status(stack: StackProcess, execution_arn: str) -> str:
    return str(wait_for_execution(execution_arn, client=stack.client("stepfunctions"))["status"])


def queues_drained(stack: StackProcess) -> None:
    """A message is deleted just after its handler returns, so poll for the empty queues."""
    for queue in ("order_queue_url", "order_dlq_url"):
        wait_until(lambda queue=queue: stack.queue_depth(queue) == 0, f"{queue} empty")  # type: ignore[misc]


def test_valid_order_reaches_a_final_state_with_matching_rows(dev_stack: StackProcess) -> None:
    order_id = dev_stack.place_order(fixture_bytes("valid_order.json"))

    order = dev_stack.wait_for_terminal(order_id)

    assert order["status"] in (OrderStatus.FULFILLED, OrderStatus.FULFILLMENT_FAILED)
    row = dev_stack.table_item("orders_table_name", order_id)
    assert row is not None
    assert row["status"] == order["status"]
    assert row["total_amount"] == Decimal("60.08")
    assert [item["price"] for item in row["items"]] == [Decimal("29.99"), Decimal("0.10")]
    assert execution_status(dev_stack, row["execution_arn"]) == "SUCCEEDED"
    if order["status"] == OrderStatus.FULFILLMENT_FAILED:
        # dlq_processor marks the order, then writes the failure record
        wait_until(lambda: dev_stack.table_item("failed_orders_table_name", order_id) is not None, "recorded")
    else:
        assert dev_stack.table_item("failed_orders_table_name", order_id) is None


def test_invalid_order_is_rejected_with_a_failed_order_record(dev_stack: StackProcess) -> None:
    order_id = dev_stack.place_order(fixture_bytes("invalid_order_missing_customer.json"))

    order = dev_stack.wait_for_terminal(order_id)

    assert order["status"] == OrderStatus.REJECTED
    failure = dev_stack.table_item("failed_orders_table_name", order_id)
    assert failure is not None
    assert any("customer_id" in reason for reason in failure["reasons"])
    row = dev_stack.table_item("orders_table_name", order_id)
    assert row is not None
    assert execution_status(dev_stack, row["execution_arn"]) == "FAILED"


def test_with_success_rate_zero_an_order_dead_letters_after_max_receive_count(
    always_failing_stack: StackProcess,
) -> None:
    order_id = always_failing_stack.place_order(fixture_bytes("valid_order.json"))

    order = always_failing_stack.wait_for_terminal(order_id, timeout=90)

    assert order["status"] == OrderStatus.FULFILLMENT_FAILED
    row = always_failing_stack.table_item("orders_table_name", order_id)
    assert row is not None
    assert row["fulfillment_attempts"] == MAX_RECEIVE_COUNT
    wait_until(
        lambda: always_failing_stack.table_item("failed_orders_table_name", order_id) is not None, "recorded"
    )
    failure = always_failing_stack.table_item("failed_orders_table_name", order_id)
    assert failure is not None
    assert f"after {MAX_RECEIVE_COUNT} attempt(s)" in " ".join(failure["reasons"])
    queues_drained(always_failing_stack)


def test_with_success_rate_one_every_order_is_fulfilled_exactly_once(
    always_succeeding_stack: StackProcess,
) -> None:
    body = fixture_bytes("valid_order.json")
    order_ids = [
        always_succeeding_stack.place_order(body.replace(b'"cust_123"', f'"cust_{n}"'.encode()))
        for n in range(20)
    ]

    orders = [always_succeeding_stack.wait_for_terminal(order_id) for order_id in order_ids]

    assert {o["status"] for o in orders} == {OrderStatus.FULFILLED}
    rows = [always_succeeding_stack.table_item("orders_table_name", i) for i in order_ids]
    assert [row["fulfillment_attempts"] for row in rows if row] == [1] * 20
    queues_drained(always_succeeding_stack)


def test_the_gateway_serves_the_deployed_routes_and_their_errors(dev_stack: StackProcess) -> None:
    api = dev_stack.api_url

    health = http("GET", f"{api}/health")
    unknown_order = http("GET", f"{api}/orders/{uuid.uuid4()}")
    unknown_path = http("GET", f"{api}/no/such/path")
    wrong_method = http("DELETE", f"{api}/order")
    not_json = http("POST", f"{api}/orders", b"{not json")

    assert (health.status, health.body["status"]) == (200, "healthy")
    assert unknown_order.status == 404
    assert unknown_path.status == 404
    assert wrong_method.status == 405
    assert not_json.status == 400
    assert all(
        r.headers.get("Content-Type", "").startswith("application/json") for r in (unknown_path, not_json)
    )
