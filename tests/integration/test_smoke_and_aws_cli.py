"""The smoke command, and the AWS CLI pointed at the emulator, against a running local stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from local.pulumi_runner import PROJECT_ROOT
from tests.integration.stack_process import StackProcess

AWS_CLI = Path(sys.executable).with_name("aws")


def test_smoke_command_passes_against_the_local_stack(always_succeeding_stack: StackProcess) -> None:
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "local",
            "smoke",
            "--url",
            always_succeeding_stack.api_url,
            "--config",
            "dofs:fulfillmentSuccessRate=1",
            "--config",
            "dofs:fulfillTimeoutSeconds=1",
            "--orders",
            "20",
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert finished.returncode == 0, finished.stdout + finished.stderr
    verdicts = [
        line.split()[:2] for line in finished.stdout.splitlines() if line.startswith(("PASS", "FAIL"))
    ]
    assert verdicts == [
        ["PASS", "health"],
        ["PASS", "valid-order"],
        ["PASS", "invalid-order"],
        ["PASS", "not-found"],
        ["PASS", "batch"],
    ]
    assert "predicted 100.0%" in finished.stdout


def aws(stack: StackProcess, *arguments: str) -> Any:
    environment = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "ap-south-1",
    }
    finished = subprocess.run(
        [str(AWS_CLI), "--endpoint-url", stack.outputs["aws_endpoint"], "--output", "json", *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=environment,
    )
    return json.loads(finished.stdout)


def test_the_aws_cli_shows_orders_executions_and_queues(always_succeeding_stack: StackProcess) -> None:
    stack = always_succeeding_stack
    order_id = stack.place_order((PROJECT_ROOT / "tests/fixtures/valid_order.json").read_bytes())
    stack.wait_for_terminal(order_id)

    scanned = aws(stack, "dynamodb", "scan", "--table-name", stack.outputs["orders_table_name"])
    executions = aws(
        stack, "stepfunctions", "list-executions", "--state-machine-arn", stack.outputs["state_machine_arn"]
    )
    queue = aws(
        stack,
        "sqs",
        "get-queue-attributes",
        "--queue-url",
        stack.outputs["order_queue_url"],
        "--attribute-names",
        "All",
    )

    rows = {item["order_id"]["S"]: item["status"]["S"] for item in scanned["Items"]}
    assert rows[order_id] == "FULFILLED"
    assert order_id in {e["name"] for e in executions["executions"]}
    redrive = json.loads(queue["Attributes"]["RedrivePolicy"])
    assert redrive["maxReceiveCount"] == 3
    assert redrive["deadLetterTargetArn"].endswith(":dofs-order-dlq-dev")
