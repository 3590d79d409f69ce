"""Create the resources a recorded Pulumi run declares inside moto, the AWS emulator."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import boto3
from moto.core.config import DefaultConfig

from tests.support.pulumi_program import PROJECT_ROOT, ProgramRun, RecordedResource

MOTO_CONFIG: DefaultConfig = {"stepfunctions": {"execute_state_machine": True}}


@dataclass
class Emulated:
    run: ProgramRun

    def output(self, name: str) -> Any:
        return self.run.outputs[name]


def _queue_attributes(queue: RecordedResource) -> dict[str, str]:
    attributes = {
        "VisibilityTimeout": str(int(queue.inputs["visibilityTimeoutSeconds"])),
        "MessageRetentionPeriod": str(int(queue.inputs["messageRetentionSeconds"])),
    }
    if queue.inputs.get("redrivePolicy"):
        attributes["RedrivePolicy"] = queue.inputs["redrivePolicy"]
    return attributes


def _create_queues(run: ProgramRun) -> None:
    sqs = boto3.client("sqs")
    # Dead-letter queues first: a redrive policy must name an existing queue.
    for queue in sorted(
        run.of_type("aws:sqs/queue:Queue"), key=lambda q: bool(q.inputs.get("redrivePolicy"))
    ):
        url = sqs.create_queue(QueueName=queue.inputs["name"], Attributes=_queue_attributes(queue))[
            "QueueUrl"
        ]
        assert url == queue.outputs["url"], (
            f"emulator URL {url} differs from the program's {queue.outputs['url']}"
        )


def _create_functions(run: ProgramRun) -> None:
    iam, lambda_ = boto3.client("iam"), boto3.client("lambda")
    for role in run.of_type("aws:iam/role:Role"):
        iam.create_role(
            RoleName=role.outputs["name"], AssumeRolePolicyDocument=role.inputs["assumeRolePolicy"]
        )
    for function in run.of_type("aws:lambda/function:Function"):
        inputs = function.inputs
        created = lambda_.create_function(
            FunctionName=inputs["name"],
            Runtime=inputs["runtime"],
            Role=inputs["role"],
            Handler=inputs["handler"],
            Code={"ZipFile": (PROJECT_ROOT / inputs["code"].path).read_bytes()},
            Environment={"Variables": inputs["environment"]["variables"]},
            Timeout=int(inputs["timeout"]),
            MemorySize=int(inputs["memorySize"]),
            Architectures=inputs["architectures"],
        )
        assert created["FunctionArn"] == function.outputs["arn"]


def provision(run: ProgramRun) -> Emulated:
    """Tables, queues, roles, functions and the state machine, exactly as declared."""
    dynamodb = boto3.client("dynamodb")
    for table in run.of_type("aws:dynamodb/table:Table"):
        dynamodb.create_table(
            TableName=table.inputs["name"],
            KeySchema=[{"AttributeName": table.inputs["hashKey"], "KeyType": "HASH"}],
            AttributeDefinitions=[
                {"AttributeName": a["name"], "AttributeType": a["type"]} for a in table.inputs["attributes"]
            ],
            BillingMode=table.inputs["billingMode"],
        )
    _create_queues(run)
    _create_functions(run)
    (machine,) = run.of_type("aws:sfn/stateMachine:StateMachine")
    arn = boto3.client("stepfunctions").create_state_machine(
        name=machine.inputs["name"],
        definition=machine.inputs["definition"],
        roleArn=machine.inputs["roleArn"],
        type=machine.inputs["type"],
    )["stateMachineArn"]
    assert arn == machine.outputs["arn"]
    return Emulated(run)


def wait_for_execution(execution_arn: str, timeout_seconds: float = 30.0) -> dict[str, Any]:
    """Poll DescribeExecution until the execution leaves RUNNING, or fail at the deadline."""
    client = boto3.client("stepfunctions")
    deadline = time.monotonic() + timeout_seconds
    while True:
        described: dict[str, Any] = client.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return described
        if time.monotonic() > deadline:
            raise AssertionError(f"execution {execution_arn} still RUNNING after {timeout_seconds}s")
        time.sleep(0.05)


def execution_history(execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = boto3.client("stepfunctions").get_execution_history(
        executionArn=execution_arn
    )["events"]
    return events


def json_body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])
