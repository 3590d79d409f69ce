"""The emulator treats EXPRESS workflows as AWS does, and STANDARD ones as before.

With and without moto's interpreter (the local stack runs it; the unit tier does not).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core.config import DefaultConfig
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from local.express_fidelity import express_workflows_as_on_aws, is_express_execution_arn

PASS_DEFINITION = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
WAIT_DEFINITION = {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 30, "End": True}}}
INTERPRETER: DefaultConfig = {"stepfunctions": {"execute_state_machine": True}}
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


@pytest.fixture(params=[False, True], ids=["plain moto", "moto's interpreter"])
def sfn(request: pytest.FixtureRequest) -> Iterator[Any]:
    config = INTERPRETER if request.param else None
    with mock_aws(config=config), express_workflows_as_on_aws():
        yield boto3.client("stepfunctions", region_name="ap-south-1")


def create_machine(sfn: Any, kind: str, definition: dict[str, Any] = PASS_DEFINITION) -> str:
    role = boto3.client("iam", region_name="ap-south-1").create_role(
        RoleName=f"states-{kind}", AssumeRolePolicyDocument=json.dumps(TRUST)
    )["Role"]["Arn"]
    arn: str = sfn.create_state_machine(
        name=f"m-{kind.lower()}", definition=json.dumps(definition), roleArn=role, type=kind
    )["stateMachineArn"]
    return arn


def error_code(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return str(raised.value.response["Error"]["Code"])


def test_an_express_name_started_twice_runs_twice_under_two_express_arns(sfn: Any) -> None:
    machine = create_machine(sfn, "EXPRESS")

    first = sfn.start_execution(stateMachineArn=machine, name="o-1", input="{}")["executionArn"]
    second = sfn.start_execution(stateMachineArn=machine, name="o-1", input="{}")["executionArn"]

    assert first != second
    assert all(is_express_execution_arn(arn) for arn in (first, second))
    assert first.split(":")[5:8] == ["express", "m-express", "o-1"]


def test_an_express_execution_is_not_served_by_describe_history_stop_or_list(sfn: Any) -> None:
    machine = create_machine(sfn, "EXPRESS")
    arn = sfn.start_execution(stateMachineArn=machine, name="o-1", input="{}")["executionArn"]

    assert error_code(sfn.describe_execution, executionArn=arn) == "InvalidArn"
    assert error_code(sfn.get_execution_history, executionArn=arn) == "InvalidArn"
    assert error_code(sfn.stop_execution, executionArn=arn) == "InvalidArn"
    assert error_code(sfn.list_executions, stateMachineArn=machine) == "StateMachineTypeNotSupported"


def test_standard_still_deduplicates_names_and_answers_describe(sfn: Any) -> None:
    machine = create_machine(sfn, "STANDARD", WAIT_DEFINITION)

    first = sfn.start_execution(stateMachineArn=machine, name="o-1", input="{}")["executionArn"]
    again = sfn.start_execution(stateMachineArn=machine, name="o-1", input="{}")["executionArn"]

    assert again == first, "the same name and input while running: the same execution"
    assert not is_express_execution_arn(first)
    assert sfn.describe_execution(executionArn=first)["name"] == "o-1"
    assert [e["name"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]] == ["o-1"]
    assert error_code(sfn.start_execution, stateMachineArn=machine, name="o-1", input='{"other": 1}') == (
        "ExecutionAlreadyExists"
    )


def test_a_duplicate_run_starts_an_express_execution_twice_and_a_standard_once() -> None:
    with mock_aws(config=INTERPRETER), express_workflows_as_on_aws(duplicate_run=lambda: True):
        sfn = boto3.client("stepfunctions", region_name="ap-south-1")
        express, standard = create_machine(sfn, "EXPRESS"), create_machine(sfn, "STANDARD")
        sfn.start_execution(stateMachineArn=express, name="o-1", input="{}")
        sfn.start_execution(stateMachineArn=standard, name="o-1", input="{}")
        backend = stepfunctions_parser_backends[DEFAULT_ACCOUNT_ID]["ap-south-1"]
        runs = {arn: len(backend.describe_state_machine(arn).executions) for arn in (express, standard)}

    assert runs == {express: 2, standard: 1}
