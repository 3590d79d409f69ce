"""The local console in a real browser: what it shows equals what the API and the tables say."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from playwright.sync_api import Page, expect

from handlers.models import OrderStatus
from tests.integration.stack_process import StackProcess, http, wait_until
from tests.unit.support import fixture_text

ORDER = fixture_text("valid_order.json").encode()
WRONG_TOTAL = fixture_text("order_with_wrong_total.json").encode()


def refreshed_after(page: Page, moment: str) -> None:
    """Wait for a refresh whose snapshot was taken after ``moment`` (ISO, UTC)."""
    page.wait_for_function("m => (document.body.dataset.loaded || '') > m", arg=moment, timeout=20_000)


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())


def table_statuses(stack: StackProcess) -> Counter[str]:
    pages = stack.client("dynamodb").get_paginator("scan")
    table = stack.outputs["orders_table_name"]
    return Counter(
        item["status"]["S"]
        for page in pages.paginate(
            TableName=table, ProjectionExpression="#s", ExpressionAttributeNames={"#s": "status"}
        )
        for item in page["Items"]
    )


def final_orders(stack: StackProcess, bodies: list[bytes]) -> dict[str, dict[str, Any]]:
    ids = [stack.place_order(body) for body in bodies]
    return {order_id: stack.wait_for_terminal(order_id, timeout=60) for order_id in ids}


def test_the_page_loads_with_no_console_errors(page: Page, console_errors: list[str]) -> None:
    expect(page.locator("#workflow [data-state='ValidateOrder']")).to_be_visible()
    expect(page.locator("#pipeline #stage-api")).to_be_visible()
    page.wait_for_timeout(2500)  # one self-refresh, which must not fail either
    assert console_errors == []


def test_counts_equal_the_apis_and_the_tables_after_a_batch(
    page: Page, failing_stack: StackProcess, console_errors: list[str]
) -> None:
    final_orders(failing_stack, [ORDER] * 6 + [WRONG_TOTAL] * 2)
    wait_until(lambda: failing_stack.queue_depth("order_dlq_url") == 0, "DLQ drained")
    refreshed_after(page, now_iso())

    from_api = Counter(
        http("GET", f"{failing_stack.api_url}/orders/{row}").body["status"]
        for row in page.locator("#orders-table tbody tr").evaluate_all(
            "rows => rows.map(r => r.dataset.orderId)"
        )
    )
    shown = {status.value: int(page.locator(f"#count-{status.value}").inner_text()) for status in OrderStatus}
    assert shown == {status.value: table_statuses(failing_stack)[status.value] for status in OrderStatus}
    assert {status: n for status, n in shown.items() if n} == dict(from_api)
    assert shown["REJECTED"] >= 2 and shown["FULFILLMENT_FAILED"] >= 6
    assert int(page.locator("#stage-api").text_content() or "") == sum(shown.values())
    assert console_errors == []


def test_an_orders_timeline_matches_get_order(page: Page, failing_stack: StackProcess) -> None:
    (order_id, order), *_ = final_orders(failing_stack, [ORDER]).items()

    page.fill("#order-lookup", order_id)
    page.click("#order-filter button[type=submit]")
    expect(page.locator("#order-status")).to_have_text(order["status"])

    events = page.locator("#timeline li").evaluate_all(
        "items => items.map(li => [li.dataset.status, li.dataset.at])"
    )
    assert events == [
        ["RECEIVED", order["created_at"]],
        ["PENDING_FULFILLMENT", order["validated_at"]],
        [order["status"], order["failed_at"]],
    ]
    assert int(page.locator("#order-attempts").inner_text()) == order["fulfillment_attempts"]
    assert page.locator("#order-failure").inner_text().endswith("; ".join(order["failure"]["reasons"]))


def test_redrive_from_the_page_moves_a_failed_order(page: Page, failing_stack: StackProcess) -> None:
    (order_id, order), *_ = final_orders(failing_stack, [ORDER]).items()
    assert order["status"] == OrderStatus.FULFILLMENT_FAILED
    wait_until(lambda: failing_stack.table_item("failed_orders_table_name", order_id) is not None, "recorded")
    refreshed_after(page, now_iso())

    page.click(f"#failed-table button.redrive-one[data-order-id='{order_id}']")

    expect(page.locator("#redrive-result")).to_have_text(f"redriven 1 order(s): {order_id}")
    item = failing_stack.table_item("orders_table_name", order_id)
    assert item is not None and item["redrive_count"] == 1
    assert [failure["failed_at"] for failure in item["previous_failures"]] == [order["failed_at"]]
    again = failing_stack.wait_for_terminal(order_id)  # every attempt fails on this stack
    assert again["failed_at"] > order["failed_at"]
