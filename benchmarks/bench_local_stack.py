"""Time the local stack as a developer meets it: `make run` to a healthy API, then one
order and a batch of orders from 202 to their final state.

Standard library only, so it also measures a first run on a fresh clone (where
`make run` creates .venv):

    python3 benchmarks/bench_local_stack.py [--orders 100] [--config KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TERMINAL = {"FULFILLED", "FULFILLMENT_FAILED", "REJECTED"}
ORDER = (
    b'{"customer_id": "cust_bench", "items": [{"product_id": "prod_001", "quantity": 2, "price": 29.99},'
    b' {"product_id": "prod_002", "quantity": 1, "price": 0.10}], "total_amount": 60.08,'
    b' "shipping_address": {"street": "1 Main St", "city": "Anytown", "state": "CA", "zip": "12345"}}'
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def request(method: str, url: str, body: bytes | None = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"} if body else {}
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, body, headers, method=method), timeout=30
        ) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def wait_healthy(api: str, process: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"make run exited with {process.returncode}")
        try:
            if request("GET", f"{api}/health")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit("the API did not become healthy in time")


def place(api: str) -> tuple[str, float]:
    status, body = request("POST", f"{api}/order", ORDER)
    if status != 202:
        raise SystemExit(f"POST /order answered {status}: {body}")
    return str(body["order_id"]), time.monotonic()


def wait_terminal(api: str, order_id: str, deadline: float) -> tuple[str, float]:
    """The final status, and the seconds from acceptance to it by the order's own timestamps
    (polling many orders from a few threads would otherwise see some late)."""
    while time.monotonic() < deadline:
        order = request("GET", f"{api}/orders/{order_id}")[1]
        if order["status"] in TERMINAL:
            created, updated = (datetime.fromisoformat(order[k]) for k in ("created_at", "updated_at"))
            return order["status"], (updated - created).total_seconds()
        time.sleep(0.05)
    raise SystemExit(f"order {order_id} did not finish in time")


def run_batch(api: str, count: int, timeout: float) -> None:
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        placed = list(pool.map(lambda _: place(api), range(count)))
    accepted = time.monotonic() - started
    deadline = time.monotonic() + timeout
    with ThreadPoolExecutor(8) as pool:
        finished = list(pool.map(lambda p: wait_terminal(api, p[0], deadline), placed))
    # Last order final = when it was accepted plus its own 202 → final time.
    last_final = max(at - started + took for (_, at), (_, took) in zip(placed, finished, strict=True))
    latencies = sorted(took for _, took in finished)
    states = {s: sum(1 for f, _ in finished if f == s) for s in sorted({f for f, _ in finished})}
    print(f"{count} orders: all accepted in {accepted:.2f} s ({count / accepted:.1f} orders/s)")
    print(f"{count} orders: all final {last_final:.2f} s after the first POST; {states}")
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"202 → final per order: p50 {statistics.median(latencies):.2f} s, p99 {p99:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--config", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    api_port, aws_port = free_port(), free_port()
    run_args = [f"--port {api_port}", f"--aws-port {aws_port}", *(f"--config {c}" for c in args.config)]
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        process = subprocess.Popen(
            ["make", "--no-print-directory", "run", f"ARGS={' '.join(run_args)}"],
            cwd=PROJECT_ROOT,
            stdout=open(Path(tmp) / "console.txt", "wb"),  # noqa: SIM115 (closed with the process)
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        api = f"http://127.0.0.1:{api_port}"
        try:
            wait_healthy(api, process, started + 900)
            print(f"make run → healthy API: {time.monotonic() - started:.2f} s")
            order_id, _ = place(api)
            status, took = wait_terminal(api, order_id, time.monotonic() + args.timeout)
            print(f"1 order: 202 → {status} in {took:.2f} s")
            run_batch(api, args.orders, args.timeout)
        finally:
            os.killpg(process.pid, signal.SIGINT)
            process.wait(timeout=30)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
