"""Time the order path on moto: POST /order in api_handler, and one order through the workflow.

    .venv/bin/python -m benchmarks.bench_order_path [--orders 200]

Figures are for this machine and the emulator, not for AWS: they show the handler's own
cost and catch regressions, nothing more.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import boto3

from local.lambda_runtime import InProcessLambdaRuntime
from local.recorded_program import record_program
from tests.support.emulator import in_process_emulator, provision, wait_for_execution

ORDER = json.loads((Path(__file__).parents[1] / "tests/fixtures/valid_order.json").read_text())


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _post_event(index: int) -> dict[str, object]:
    return {
        "httpMethod": "POST",
        "path": "/order",
        "headers": {"Content-Type": "application/json", "Idempotency-Key": f"bench-{index}"},
        "body": json.dumps(ORDER),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=200)
    args = parser.parse_args()
    os.environ.setdefault("AWS_DEFAULT_REGION", "ap-south-1")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")

    started = time.perf_counter()
    program = record_program("dev", {"dofs:logLevel": "WARNING"})  # keep handler logs off the figures
    elapsed_ms = (time.perf_counter() - started) * 1000
    print(f"program under mocks: {elapsed_ms:.0f} ms, {len(program.resources)} resources")

    with in_process_emulator(), InProcessLambdaRuntime() as runtime:
        provision(program)
        function = program.function("dofs-api-handler-dev")
        environment = function.inputs["environment"]["variables"]
        accept_ms, end_to_end_ms = [], []
        for index in range(args.orders):
            begin = time.perf_counter()
            response, _ = runtime.invoke(
                "handlers.api_handler.handler",
                function_name="dofs-api-handler-dev",
                environment=environment,
                event=_post_event(index),
            )
            accept_ms.append((time.perf_counter() - begin) * 1000)
            execution_arn = json.loads(response["body"])["execution_arn"]
            status = wait_for_execution(execution_arn)["status"]
            end_to_end_ms.append((time.perf_counter() - begin) * 1000)
            assert status == "SUCCEEDED", status
        queued = boto3.client("sqs").get_queue_attributes(
            QueueUrl=program.outputs["order_queue_url"], AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]

    for label, samples in (
        ("POST /order (api_handler)", accept_ms),
        ("202 -> workflow SUCCEEDED", end_to_end_ms),
    ):
        print(
            f"{label}: n={len(samples)} p50={statistics.median(samples):.1f} ms "
            f"p99={_percentile(samples, 0.99):.1f} ms max={max(samples):.1f} ms"
        )
    print(f"orders enqueued for fulfillment: {queued}")


if __name__ == "__main__":
    main()
