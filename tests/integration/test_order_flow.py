"""Orders over real HTTP through the local stack, to their final state in the emulator."""

from __future__ import annotations

import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path

from handlers.models import DUE_AT, IN_FLIGHT_SHARD, OrderStatus, execution_arn_of
from handlers.order_intake import order_id_for
from local.pulumi_runner import PROJECT_ROOT
from tests.integration.stack_process import StackProcess, http, wait_until
from tests.support.emulator import wait_for_execution

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MAX_RECEIVE_COUNT = 3  # Pulumi.dev.yaml


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def execution_status(stack: StackProcess, order_id: str) -> str:
    """How the order's execution ended: dev is STANDARD, so its ARN follows from the order id."""
    execution_arn = execution_arn_of(stack.outputs["state_machine_arn"], order_id)
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
    assert not {IN_FLIGHT_SHARD, DUE_AT, "request_body", "execution_arn"} & set(row)  # final and lean
    assert execution_status(dev_stack, order_id) == "SUCCEEDED"
    if order["status"] == OrderStatus.FULFILLMENT_FAILED:
        # dlq_processor marks the order, then writes the failure record
        wait_until(lambda: dev_stack.table_item("failed_orders_table_name", order_id) is not None, "recorded")
    else:
        assert dev_stack.table_item("failed_orders_table_name", order_id) is None


def test_an_order_without_a_customer_is_refused_and_not_stored(dev_stack: StackProcess) -> None:
    key = f"no-customer-{uuid.uuid4()}"
    result = http(
        "POST",
        f"{dev_stack.api_url}/order",
        fixture_bytes("invalid_order_missing_customer.json"),
        {"Idempotency-Key": key},
    )

    assert result.status == 422
    assert result.body["error"] == "invalid_order"
    assert result.body["problems"] == ["customer_id: is required"]
    assert dev_stack.table_item("orders_table_name", order_id_for(key)) is None


def test_an_order_with_a_wrong_total_is_rejected_with_a_failed_order_record(dev_stack: StackProcess) -> None:
    order_id = dev_stack.place_order(fixture_bytes("order_with_wrong_total.json"))

    order = dev_stack.wait_for_terminal(order_id)

    assert order["status"] == OrderStatus.REJECTED
    failure = dev_stack.table_item("failed_orders_table_name", order_id)
    assert failure is not None
    assert any("total_amount" in reason for reason in failure["reasons"])
    row = dev_stack.table_item("orders_table_name", order_id)
    assert row is not None
    assert not {IN_FLIGHT_SHARD, DUE_AT, "request_body"} & set(row)
    assert execution_status(dev_stack, order_id) == "SUCCEEDED"  # a rejection is an outcome, not a fault


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


def redrive(stack: StackProcess, *options: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "ops", "redrive", "--outputs", str(stack.outputs_file), *options]
    return subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60, check=False)


def test_a_redriven_order_goes_round_again_and_a_second_redrive_moves_nothing(
    always_failing_stack: StackProcess,
) -> None:
    stack = always_failing_stack
    order_id = stack.place_order(fixture_bytes("valid_order.json"))
    assert stack.wait_for_terminal(order_id, timeout=90)["status"] == OrderStatus.FULFILLMENT_FAILED
    wait_until(lambda: stack.table_item("failed_orders_table_name", order_id) is not None, "recorded")

    first = redrive(stack, "--order-id", order_id)
    again = redrive(stack, "--order-id", order_id)

    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[0] == f"redriven 1 order(s): {order_id}"
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[0] == "redriven 0 order(s)"
    assert f"skipped {order_id}: it is " in again.stdout
    # At success rate 0 it fails again: a second round of attempts, the first failure kept
    # (the command deleted the failure record before it returned).
    wait_until(lambda: stack.table_item("failed_orders_table_name", order_id) is not None, "failed again", 90)
    row = stack.table_item("orders_table_name", order_id)
    assert row is not None
    assert row["status"] == OrderStatus.FULFILLMENT_FAILED
    assert row["fulfillment_attempts"] == 2 * MAX_RECEIVE_COUNT
    assert row["redrive_count"] == 1
    assert [failure["failure_stage"] for failure in row["previous_failures"]] == ["fulfillment"]


def test_bad_input_over_http_is_a_4xx_naming_the_problem_and_stores_nothing(dev_stack: StackProcess) -> None:
    cases = {
        "truncated JSON": (b'{"customer_id": "c", "items": [', "application/json", 400, "JSON"),
        "NaN": (b'{"total_amount": NaN}', "application/json", 400, "NaN"),
        "invalid UTF-8": (b'{"customer_id": "\xff"}', "application/json", 400, "UTF-8"),
        "wrong content type": (fixture_bytes("valid_order.json"), "text/plain", 415, "Content-Type"),
        "over the limit": (b" " * 40_000 + b"{}", "application/json", 413, "bytes"),
        "negative quantity": (
            fixture_bytes("valid_order.json").replace(b'"quantity": 2', b'"quantity": -2'),
            "application/json",
            422,
            "items[0].quantity",
        ),
    }
    for name, (body, content_type, status, named) in cases.items():
        key = f"bad-{uuid.uuid4()}"
        result = http(
            "POST", f"{dev_stack.api_url}/order", body, {"Content-Type": content_type, "Idempotency-Key": key}
        )
        assert result.status == status, (name, result)
        assert named in result.body["message"], (name, result.body)
        assert dev_stack.table_item("orders_table_name", order_id_for(key)) is None, name
