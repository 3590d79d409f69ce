"""``python -m local run`` as a developer meets it: the banner, a busy port, Ctrl-C, and
faults injected on purpose."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from local.pulumi_runner import PROJECT_ROOT
from tests.integration.stack_process import FAST_RETRIES, StackProcess, http
from tests.support.emulator import wait_for_execution


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as a restarted server binds
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_banner_names_the_api_the_emulator_and_what_is_not_run_locally(dev_stack: StackProcess) -> None:
    console = dev_stack.console

    assert f"Order API      {dev_stack.api_url}" in console
    assert f"AWS emulator   {dev_stack.outputs['aws_endpoint']}" in console
    assert f"Console        {dev_stack.outputs['console_url']}" in console
    assert f"curl -s -i -X POST {dev_stack.api_url}/order" in console
    alarms = next(line for line in console.splitlines() if "aws:cloudwatch/metricAlarm:MetricAlarm (" in line)
    assert "order-dlq-not-drained" in alarms and "workflow-failures" in alarms
    assert "aws:sns/topicSubscription:TopicSubscription" not in console  # no alarmEmails in dev
    assert "aws:apigateway/methodSettings:MethodSettings (throttling)" in console
    assert (
        "aws:cloudwatch/eventRule:EventRule (execution-ended): "
        "the emulator emits no Step Functions status-change events" in console
    )
    assert "reconcile-schedule" not in console  # a schedule rule is served, not listed as inert
    assert "  dofs-order-reconciler-dev -> dofs-reconciler-dev, every 60 s" in console
    assert "FAULT INJECTION" not in console


@pytest.mark.parametrize("option", ["--port", "--aws-port"])
def test_a_busy_port_is_one_line_naming_the_port_and_the_option(option: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        other = "--aws-port" if option == "--port" else "--port"
        finished = run_command(option, str(port), other, "0")

    assert finished.returncode == 2
    errors = [line for line in finished.stdout.splitlines() if line.startswith("error:")]
    assert errors == [f"error: port {port} is already in use; choose another with {option}"]


def test_a_busy_console_port_is_one_line_before_anything_starts() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        finished = run_command("--console-port", str(port), "--port", "0", "--aws-port", "0")

    assert finished.returncode == 2
    assert finished.stdout.splitlines() == [
        f"error: port {port} is already in use; choose another with --console-port"
    ]


def run_command(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "local", "run", *arguments],
        cwd=PROJECT_ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_unknown_stack_is_one_line_naming_the_known_ones() -> None:
    finished = run_command("--stack", "staging", "--port", "0", "--aws-port", "0")

    assert finished.returncode == 2
    assert "error: unknown stack 'staging'" in finished.stdout
    assert "stacks: dev, prod" in finished.stdout


def test_a_bad_setting_override_names_the_key() -> None:
    finished = run_command("--port", "0", "--aws-port", "0", "--config", "dofs:fulfillmentSuccessRate=1.5")

    assert finished.returncode == 2
    assert "dofs:fulfillmentSuccessRate" in finished.stdout


def test_ctrl_c_stops_everything_and_frees_both_ports(tmp_path: Path) -> None:
    stack = StackProcess(tmp_path, FAST_RETRIES).start()
    api_port = int(stack.api_url.rsplit(":", 1)[1])
    aws_port = int(stack.outputs["aws_endpoint"].rsplit(":", 1)[1])
    assert http("GET", f"{stack.api_url}/health").status == 200

    exit_code = stack.stop()

    assert exit_code == 0
    assert stack.console.rstrip().endswith("stopped.")
    assert _port_is_free(api_port)
    assert _port_is_free(aws_port)


def test_a_bad_fault_option_is_one_line_naming_the_valid_points() -> None:
    finished = run_command("--port", "0", "--aws-port", "0", "--fault", "enqueue=2")

    assert finished.returncode == 2
    (error,) = [line for line in finished.stdout.splitlines() if line.startswith("error:")]
    assert error.startswith("error: argument --fault: 'enqueue=2': expected POINT=RATE, RATE from 0 to 1")
    assert "duplicate_delivery, enqueue" in error


def test_an_enqueue_fault_fails_the_workflows_send_message_which_retries_it(tmp_path: Path) -> None:
    stack = StackProcess(tmp_path, FAST_RETRIES)
    stack.arguments += ["--fault", "enqueue=1", "--fault-seed", "1", "--schedule-every", "1"]
    stack.start()
    try:
        body = (PROJECT_ROOT / "tests/fixtures/valid_order.json").read_bytes()
        accepted = http("POST", f"{stack.api_url}/order", body)
        assert accepted.status == 202, accepted
        sfn = stack.client("stepfunctions")
        execution = wait_for_execution(accepted.body["execution_arn"], timeout_seconds=60, client=sfn)
        history = sfn.get_execution_history(executionArn=execution["executionArn"])["events"]
        order = http("GET", f"{stack.api_url}/orders/{accepted.body['order_id']}").body
        queued = stack.queue_depth("order_queue_url")
    finally:
        assert stack.stop() == 0

    send_failures = [e["taskFailedEventDetails"] for e in history if e["type"] == "TaskFailed"]
    assert [f["cause"] for f in send_failures] == ["injected fault at enqueue"] * 4  # 1 attempt, 3 retries
    assert {f["resource"] for f in send_failures} == {"sendMessage"}
    assert queued == 0
    assert order["status"] != "FULFILLED"
    assert "!!! FAULT INJECTION ON: enqueue=1, seed 1." in stack.console
    assert "dofs-order-reconciler-dev -> dofs-reconciler-dev, every 1 s" in stack.console
