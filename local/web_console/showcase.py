"""The console on a local stack started in this process, with orders sent through its API:
what ``make screenshot`` photographs (docs/console.png) and benchmarks/bench_console.py times.

    python -m local.web_console.showcase [--out docs/console.png] [--orders 60]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from local.console import configure_logging
from local.pulumi_runner import PROJECT_ROOT
from local.smoke import encode_json, valid_order_body
from local.stack import LocalStack, LocalStackOptions
from local.web_console.browser import ensure_browser, headless_chromium
from local.web_console.server import ConsoleServer, console_listener, start_console

# Retries in 6 s rather than 30 s, so failures reach the DLQ while the picture is taken.
SHOWCASE_CONFIG = {"dofs:fulfillTimeoutSeconds": "1"}
SCREENSHOT = PROJECT_ROOT / "docs" / "console.png"
SETTLE_SECONDS = 20.0
SCREENSHOT_SIZE = (1200, 1400)  # pipeline, workflow, charts, orders and a timeline


@contextlib.contextmanager
def running_console(config: Mapping[str, str], log_name: str) -> Iterator[tuple[LocalStack, ConsoleServer]]:
    """A dev stack on free ports with its console; handler output goes to build/local/<log_name>.log."""
    log_stream = configure_logging(PROJECT_ROOT / "build" / "local" / f"{log_name}.log", sys.stderr)
    options = LocalStackOptions("dev", 0, 0, dict(config))
    with contextlib.redirect_stdout(log_stream), LocalStack(options) as stack:
        console = start_console(console_listener(0), stack)
        try:
            yield stack, console
        finally:
            console.stop()


def post_order(api_url: str, body: str) -> str:
    request = urllib.request.Request(
        f"{api_url}/order", data=body.encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(json.loads(response.read())["order_id"])


def send_orders(api_url: str, count: int, clients: int = 8, wrong_total_every: int = 10) -> list[str]:
    """``count`` orders from ``clients`` concurrent clients; every ``wrong_total_every``-th
    has a total that is not the sum of its lines (accepted, then REJECTED)."""

    def body(index: int) -> str:
        order = valid_order_body()
        if wrong_total_every and index % wrong_total_every == wrong_total_every - 1:
            order["total_amount"] += 1
        return encode_json(order)

    with ThreadPoolExecutor(max_workers=clients) as pool:
        return list(pool.map(lambda index: post_order(api_url, body(index)), range(count)))


def screenshot(out: Path, orders: int) -> None:
    executable = ensure_browser()
    with running_console(SHOWCASE_CONFIG, "screenshot") as (stack, console):
        send_orders(stack.api_url, orders)
        time.sleep(SETTLE_SECONDS)  # a fixed pause, for the picture: orders fulfilled, retried, failed
        send_orders(stack.api_url, orders // 4)  # and some in flight
        with headless_chromium(executable, viewport=SCREENSHOT_SIZE) as browser:
            page = browser.new_page()
            page.goto(console.url)
            page.wait_for_selector("body[data-loaded]")
            failed = page.locator("#failed-table tbody tr:has(button.redrive-one)").first
            (failed if failed.count() else page.locator("#orders-table tbody tr").first).click()
            page.wait_for_selector("#timeline li")
            page.evaluate("window.scrollTo(0, 0)")  # the click scrolled to the failures
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=out)  # the viewport, not the full page: a smaller file
    print(f"wrote {out.relative_to(PROJECT_ROOT)} ({out.stat().st_size // 1024} KiB)")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.web_console.showcase", description=__doc__)
    parser.add_argument("--out", type=Path, default=SCREENSHOT)
    parser.add_argument("--orders", type=int, default=60)
    args = parser.parse_args(argv)
    screenshot(args.out.resolve(), args.orders)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
