"""Run the real DOFS Pulumi program under Pulumi's mock runtime and record what it creates:
what ``pulumi up`` would declare, without the Pulumi CLI or a cloud (``python -m local
resources`` lists it; the infra and workflow tests assert on it)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import pulumi
from moto.core.models import DEFAULT_ACCOUNT_ID
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.settings import get_monitor

from local.pulumi_runner import CALLER_IDENTITY, caller_identity, run_program, stack_config


@dataclass
class RecordedResource:
    type: str
    name: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    parent_type: str = ""
    id: str = ""
    # (type, name) of every resource it waits for: its inputs' and its explicit depends_on.
    dependencies: set[tuple[str, str]] = field(default_factory=set)
    protected: bool = False  # Pulumi's protect option: pulumi destroy refuses it


PROVIDER_ID_OUTPUT = {
    "aws:dynamodb/table:Table": "name",
    "aws:sqs/queue:Queue": "url",
    "aws:iam/role:Role": "name",
    "aws:cloudwatch/logGroup:LogGroup": "name",
    "aws:lambda/function:Function": "name",
    "aws:sfn/stateMachine:StateMachine": "arn",
    "aws:cloudwatch/eventRule:EventRule": "name",
    "aws:lambda/layerVersion:LayerVersion": "arn",
    "aws:sns/topic:Topic": "arn",
    "aws:sns/topicPolicy:TopicPolicy": "arn",  # the topic's
    "aws:sqs/queuePolicy:QueuePolicy": "queueUrl",
    "aws:cloudwatch/dashboard:Dashboard": "dashboardName",
}


class RecordingMocks(pulumi.runtime.Mocks):
    """Returns the attributes AWS would compute, in the emulator's ARN and URL formats."""

    def __init__(self, region: str) -> None:
        self.region = region
        self.resources: list[RecordedResource] = []

    def _arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{DEFAULT_ACCOUNT_ID}:{resource}"

    def computed(self, typ: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        physical = inputs.get("name") or name
        if typ == "aws:dynamodb/table:Table":
            return {"arn": self._arn("dynamodb", f"table/{physical}")}
        if typ == "aws:sqs/queue:Queue":
            return {
                "arn": self._arn("sqs", physical),
                "url": f"https://sqs.{self.region}.amazonaws.com/{DEFAULT_ACCOUNT_ID}/{physical}",
            }
        if typ == "aws:lambda/function:Function":
            arn = self._arn("lambda", f"function:{physical}")
            invoke = f"arn:aws:apigateway:{self.region}:lambda:path/2015-03-31/functions/{arn}/invocations"
            return {"arn": arn, "invokeArn": invoke}
        if typ == "aws:lambda/layerVersion:LayerVersion":
            return {"arn": self._arn("lambda", f"layer:{inputs['layerName']}:1")}
        if typ == "aws:iam/role:Role":
            return {"arn": f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/{physical}", "name": physical}
        if typ == "aws:sfn/stateMachine:StateMachine":
            return {"arn": self._arn("states", f"stateMachine:{physical}")}
        if typ == "aws:cloudwatch/eventRule:EventRule":
            return {"arn": self._arn("events", f"rule/{physical}")}
        if typ == "aws:cloudwatch/logGroup:LogGroup":
            return {"arn": self._arn("logs", f"log-group:{physical}")}
        if typ == "aws:sns/topic:Topic":
            return {"arn": self._arn("sns", physical)}
        if typ == "aws:apigateway/restApi:RestApi":
            return {"rootResourceId": "root0000", "executionArn": self._arn("execute-api", "api0000001")}
        if typ == "aws:apigateway/apiKey:ApiKey":
            return {"value": f"local-key-{name}"}
        if typ == "aws:apigateway/stage:Stage":
            stage = inputs["stageName"]
            return {"invokeUrl": f"https://api0000001.execute-api.{self.region}.amazonaws.com/{stage}"}
        return {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        outputs = {**args.inputs, **self.computed(args.typ, args.name, args.inputs)}
        resource_id = self.provider_id(args.typ, args.name, outputs)
        self.resources.append(
            RecordedResource(args.typ, args.name, dict(args.inputs), outputs, id=resource_id)
        )
        return resource_id, outputs

    @staticmethod
    def provider_id(typ: str, name: str, outputs: dict[str, Any]) -> str:
        """The id pulumi-aws gives a resource where it is a real value (a name, URL or ARN);
        otherwise a stand-in for the id AWS generates."""
        if typ in PROVIDER_ID_OUTPUT:
            return str(outputs[PROVIDER_ID_OUTPUT[typ]])
        return f"{name}-id"

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        if args.token == CALLER_IDENTITY:
            return caller_identity(), []
        return {}, None


@dataclass
class ProgramRun:
    stack: str
    resources: list[RecordedResource]
    outputs: dict[str, Any]
    overrides: dict[str, str] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)

    def of_type(self, typ: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == typ]

    def named(self, name: str) -> RecordedResource:
        matches = [r for r in self.resources if r.name == name]
        assert len(matches) == 1, f"expected one resource named {name}, found {len(matches)}"
        return matches[0]

    def function(self, function_name: str) -> RecordedResource:
        matches = [
            r for r in self.of_type("aws:lambda/function:Function") if r.inputs["name"] == function_name
        ]
        assert len(matches) == 1, f"no function {function_name}"
        return matches[0]

    def policy_of(self, function_name: str) -> dict[str, Any]:
        role_name = self.function(function_name).inputs["role"].rsplit("/", 1)[-1]
        policies = [r for r in self.of_type("aws:iam/rolePolicy:RolePolicy") if r.inputs["role"] == role_name]
        assert len(policies) == 1
        document: dict[str, Any] = json.loads(policies[0].inputs["policy"])
        return document

    def state_machine_definition(self) -> dict[str, Any]:
        (machine,) = self.of_type("aws:sfn/stateMachine:StateMachine")
        definition: dict[str, Any] = json.loads(machine.inputs["definition"])
        return definition


def record_program(stack: str = "dev", overrides: Mapping[str, str] | None = None) -> ProgramRun:
    """Run ``__main__.py`` for ``stack`` with its YAML config plus ``overrides``."""
    config = {**stack_config(stack), **(overrides or {})}
    mocks = RecordingMocks(config.get("aws:region", "us-east-1"))
    dependencies: dict[tuple[str, str], list[str]] = {}
    protected: set[tuple[str, str]] = set()
    register = MockMonitor.RegisterResource

    def registering(monitor: MockMonitor, request: Any) -> Any:
        response = register(monitor, request)  # type: ignore[no-untyped-call]
        dependencies[(request.type, request.name)] = list(request.dependencies)
        if request.protect:
            protected.add((request.type, request.name))
        return response

    secret_outputs: set[str] = set()
    with mock.patch.object(MockMonitor, "RegisterResource", registering):
        outputs = run_program(mocks, stack, overrides, secret_outputs)
    _record_parents(mocks.resources)
    for resource in mocks.resources:
        resource.dependencies = {
            _type_and_name(urn) for urn in dependencies.get((resource.type, resource.name), [])
        }
        resource.protected = (resource.type, resource.name) in protected
    return ProgramRun(stack, mocks.resources, outputs, dict(overrides or {}), secret_outputs)


def _type_and_name(urn: str) -> tuple[str, str]:
    qualified_type, name = urn.split("::")[2:4]
    return qualified_type.rpartition("$")[2], name


def _record_parents(resources: list[RecordedResource]) -> None:
    """Read each resource's parent type from its URN (``...::ParentType$Type::name``)."""
    parents: dict[tuple[str, str], str] = {}
    monitor = get_monitor()
    assert isinstance(monitor, MockMonitor)
    for urn in monitor.resources:
        qualified_type, name = urn.split("::")[2:4]
        parent_type, _, typ = qualified_type.rpartition("$")
        parents[(typ, name)] = parent_type
    for resource in resources:
        resource.parent_type = parents[(resource.type, resource.name)]
