"""Time the local console with many orders in the tables.

    python -m benchmarks.bench_console [--orders 2000] [--runs 5]

Starts a dev stack in this process with its console, sends ``--orders`` orders through the
API (one in ten with a wrong total, so REJECTED), then prints the console's first read
(a full scan of the orders) and, as medians over ``--runs``, each JSON a refresh reads
(the snapshot, the order list, the failures) and the page in headless Chromium from
navigation to its first complete render. Orders may still be flowing meanwhile.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
import urllib.request
from collections.abc import Callable

from local.web_console.browser import ensure_browser, headless_chromium
from local.web_console.showcase import SHOWCASE_CONFIG, running_console, send_orders

JSON_PATHS = ("/api/snapshot", "/api/orders", "/api/failures")
# Past the console's 1 s snapshot cache, so each timed read scans the tables again.
CACHE_PAUSE = 1.1


def timed(action: Callable[[], object], runs: int) -> float:
    """Median seconds of ``action`` over ``runs``."""
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        body: bytes = response.read()
        return body


def fetch_fresh(url: str) -> None:
    time.sleep(CACHE_PAUSE)
    fetch(url)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_console", description=__doc__)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    executable = ensure_browser()
    out = sys.stdout  # the stack's handlers print into its log, not here
    with running_console(SHOWCASE_CONFIG, "bench-console") as (stack, console):
        started = time.perf_counter()
        send_orders(stack.api_url, args.orders)
        print(f"{args.orders} orders accepted in {time.perf_counter() - started:.1f} s", file=out, flush=True)
        first = timed(functools.partial(fetch, console.url + "/api/snapshot"), 1)
        print(f"  first GET /api/snapshot (a full scan) {first * 1000:7.0f} ms", file=out, flush=True)
        for path in JSON_PATHS:
            size = len(fetch(console.url + path))
            median = timed(functools.partial(fetch_fresh, console.url + path), args.runs) - CACHE_PAUSE
            print(
                f"  GET {path:<16} {median * 1000:7.0f} ms median  ({size // 1024} KiB)", file=out, flush=True
            )
        with headless_chromium(executable) as browser:

            def load() -> None:
                page = browser.new_page()
                page.goto(console.url)
                page.wait_for_selector("body[data-loaded]", timeout=60_000)
                page.close()
                time.sleep(CACHE_PAUSE)

            median = timed(load, args.runs) - CACHE_PAUSE
        shown = stack.client("dynamodb").describe_table(TableName=stack.outputs["orders_table_name"])
        print(
            f"  page load to first full render {median * 1000:7.0f} ms median over {args.runs} loads",
            file=out,
        )
        print(
            f"  (orders table: {shown['Table'].get('ItemCount', '?')} items by the emulator's count)",
            file=out,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
