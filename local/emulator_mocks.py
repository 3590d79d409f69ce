"""Pulumi mocks that create each declared AWS resource in the emulator (moto's server).

``pulumi up`` asks AWS to create a resource and gets back its ARN, URL and name; these
mocks ask the emulator instead and hand the program the emulator's real answers. The
local stack is therefore whatever the program declares, with no second copy of names or
wiring. A resource type the emulator cannot run is recorded with the reason, so the
start-up banner can list it; nothing is dropped silently.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import pulumi
from botocore.client import BaseClient
from moto.core.models import DEFAULT_ACCOUNT_ID

from local.emulator_api_access import API_ACCESS_CREATORS
from local.errors import LocalStackError
from local.event_source import detach_moto_sqs_trigger
from local.pulumi_runner import CALLER_IDENTITY, PROJECT_ROOT, caller_identity

Created = tuple[str, dict[str, Any]]
Creator = Callable[["EmulatorMocks", str, dict[str, Any]], Created]

# What the local stack does not run, and why (shown at start-up).
NOT_EMULATED: dict[str, str] = {
    "aws:cloudwatch/metricAlarm:MetricAlarm": "no metrics locally, so alarms would never be evaluated",
    "aws:apigateway/methodSettings:MethodSettings": "the local gateway neither throttles nor meters",
    "aws:xray/samplingRule:SamplingRule": "nothing is traced locally",
    "aws:sns/topicSubscription:TopicSubscription": "no email is sent from this machine",
}
# Created in the emulator (visible to the AWS CLI) but inert on this machine.
INERT: dict[str, str] = {
    "aws:cloudwatch/logGroup:LogGroup": "handler logs go to the local log file instead",
    "aws:cloudwatch/eventRule:EventRule": "the emulator emits no Step Functions status-change events",
    "aws:cloudwatch/eventTarget:EventTarget": "its rule never fires locally",
    "aws:apigateway/deployment:Deployment": "the local gateway serves the API's resources directly",
    "aws:apigateway/stage:Stage": "served at the local gateway's URL, not under a stage path",
    "aws:lambda/layerVersion:LayerVersion": "handlers run in-process with the project's own packages",
    "aws:sns/topic:Topic": "no alarm publishes to it locally",
    "aws:sns/topicPolicy:TopicPolicy": "no alarm publishes to its topic locally",
    "aws:cloudwatch/dashboard:Dashboard": "no metrics locally, so its graphs stay empty",
}


@dataclass(frozen=True)
class DeclaredResource:
    """One resource as the program declared it, and what the emulator made of it."""

    type: str
    name: str
    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    emulated: bool


@dataclass
class EmulatorMocks(pulumi.runtime.Mocks):
    endpoint_url: str | None  # None: boto3's own AWS endpoints, as moto's in-process mock intercepts them
    region: str
    gateway_url: str | None = None  # what serves the API locally; None: API Gateway's URL format
    resources: list[DeclaredResource] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _clients: dict[str, BaseClient] = field(default_factory=dict)

    def client(self, service: str) -> BaseClient:
        # Pulumi registers resources from several threads; making clients from one
        # session is not thread-safe, using them is.
        with self._lock:
            if service not in self._clients:
                self._clients[service] = boto3.session.Session().client(
                    service, region_name=self.region, endpoint_url=self.endpoint_url
                )
            return self._clients[service]

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{DEFAULT_ACCOUNT_ID}:{resource}"

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = dict(args.inputs)
        if not args.typ.startswith("aws:"):  # a ComponentResource: nothing to create
            return self._record(args, inputs, f"{args.name}-component", {}, emulated=True)
        creator = CREATORS.get(args.typ)
        if creator is not None:
            resource_id, computed = creator(self, args.name, inputs)
            return self._record(args, inputs, resource_id, computed, emulated=True)
        if args.typ in NOT_EMULATED:
            return self._record(args, inputs, f"{args.name}-not-emulated", {}, emulated=False)
        raise LocalStackError(f"{args.typ} ({args.name}): the local stack does not know this type")

    def _record(
        self,
        args: pulumi.runtime.MockResourceArgs,
        inputs: dict[str, Any],
        resource_id: str,
        computed: dict[str, Any],
        *,
        emulated: bool,
    ) -> tuple[str, dict[str, Any]]:
        outputs = {**inputs, **computed}
        with self._lock:
            self.resources.append(
                DeclaredResource(args.typ, args.name, resource_id, inputs, outputs, emulated)
            )
        return resource_id, outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        if args.token == CALLER_IDENTITY:
            return caller_identity(), []
        raise LocalStackError(f"the program calls {args.token}, which the local stack does not serve")


def _key_schema(hash_key: str, range_key: str | None = None) -> list[dict[str, str]]:
    keys = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key:
        keys.append({"AttributeName": range_key, "KeyType": "RANGE"})
    return keys


def _global_secondary_index(index: dict[str, Any]) -> dict[str, Any]:
    schema = index.get("keySchemas")
    keys = (
        [{"AttributeName": k["attributeName"], "KeyType": k["keyType"]} for k in schema]
        if schema
        else _key_schema(index["hashKey"], index.get("rangeKey"))
    )
    projection: dict[str, Any] = {"ProjectionType": index["projectionType"]}
    if index.get("nonKeyAttributes"):
        projection["NonKeyAttributes"] = list(index["nonKeyAttributes"])
    return {"IndexName": index["name"], "KeySchema": keys, "Projection": projection}


def _table(mocks: EmulatorMocks, name: str, inputs: dict[str, Any]) -> Created:
    indexes = [_global_secondary_index(i) for i in inputs.get("globalSecondaryIndexes") or []]
    table = mocks.client("dynamodb").create_table(
        TableName=inputs["name"],
        KeySchema=_key_schema(inputs["hashKey"], inputs.get("rangeKey")),
        AttributeDefinitions=[
            {"AttributeName": a["name"], "AttributeType": a["type"]} for a in inputs["attributes"]
        ],
        BillingMode=inputs["billingMode"],
        SSESpecification={"Enabled": bool(inputs.get("serverSideEncryption", {}).get("enabled"))},
        DeletionProtectionEnabled=bool(inputs.get("deletionProtectionEnabled")),
        **({"GlobalSecondaryIndexes": indexes} if indexes else {}),
    )["TableDescription"]
    return table["TableName"], {"arn": table["TableArn"], "name": table["TableName"]}


QUEUE_ATTRIBUTES = {
    "visibilityTimeoutSeconds": "VisibilityTimeout",
    "messageRetentionSeconds": "MessageRetentionPeriod",
    "delaySeconds": "DelaySeconds",
    "maxMessageSize": "MaximumMessageSize",
    "receiveWaitTimeSeconds": "ReceiveMessageWaitTimeSeconds",
    "redrivePolicy": "RedrivePolicy",
    "sqsManagedSseEnabled": "SqsManagedSseEnabled",
}


def _queue_attribute(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(int(value)) if isinstance(value, float) else str(value)


def _queue(mocks: EmulatorMocks, name: str, inputs: dict[str, Any]) -> Created:
    sqs = mocks.client("sqs")
    attributes = {
        attribute: _queue_attribute(inputs[key])
        for key, attribute in QUEUE_ATTRIBUTES.items()
        if inputs.get(key) not in (None, "")
    }
    url = sqs.create_queue(QueueName=inputs["name"], Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, {"arn": arn, "url": url, "name": inputs["name"]}


def _redrive_allow_policy(mocks: EmulatorMocks, name: str, inputs: dict[str, Any]) -> Created:
    mocks.client("sqs").set_queue_attributes(
        QueueUrl=inputs["queueUrl"], Attributes={"RedriveAllowPolicy": inputs["redriveAllowPolicy"]}
    )
    return inputs["queueUrl"], {}


def _queue_policy(mocks: EmulatorMocks, name: str, inputs: dict[str, Any]) -> Created:
    mocks.client("sqs").set_queue_attributes(
        QueueUrl=inputs["queueUrl"], Attributes={"Policy": inputs["policy"]}
    )
    return inputs["queueUrl"], {}


def _topic(mocks: EmulatorMocks, name: str, inputs: dict[str, Any]) -> Created:
    arn = mocks.client("sns").create_topic(
        Name=inputs["name"], Attributes={"DisplayName": inputs.get("displayName", "")}
    )["TopicArn"]
    return arn, {"arn": arn}


def _topic_policy(mocks: EmulatorMocks, name: str, inputs: dict[str, Any]) -> Created:
    mocks.client("sns").set_topic_attributes(
        TopicArn=inputs["arn"], AttributeName="Policy", AttributeValue=inputs["policy"]
    )
    return inputs["arn"], {}


def _dashboard(mocks: EmulatorMocks, name: str, inputs: dict[str, Any]) -> Created:
    mocks.client("cloudwatch").put_dashboard(
        DashboardName=inputs["dashboardName"], DashboardBody=inputs["dashboardBody"]
    )
    return inputs["dashboardName"], {
        "dashboardArn": mocks.arn("cloudwatch", f"dashboard/{inputs['dashboardName']}")
    }


def _role(mocks: EmulatorMocks, name: str, inputs: dict[str, Any]) -> Created:
    role_name = inputs.get("name") or name
    role = mocks.client("iam").create_role(
        RoleName=role_name,
        AssumeRolePolicyDocument=inputs["assumeRolePolicy"],
        Description=inputs.get("description", ""),
    )["Role"]
    return role_name, {"arn": role["Arn"], "name": role_name, "uniqueId": role["RoleId"]}


def _role_policy(mocks: EmulatorMocks, name: str, inputs: dict[str, Any]) -> Created:
    policy_name = inputs.get("name") or name
    mocks.client("iam").put_role_policy(
        RoleName=inputs["role"], PolicyName=policy_name, PolicyDocument=inputs["policy"]
    )
    return f"{inputs['role']}:{policy_name}", {"name": policy_name}


def _log_group(mocks: EmulatorMocks, name: str, inputs: dict[str, Any]) -> Created:
    logs = mocks.client("logs")
    logs.create_log_group(logGroupName=inputs["name"])
    if inputs.get("retentionInDays"):
        logs.put_retention_policy(logGroupName=inputs["name"], retentionInDays=int(inputs["retentionInDays"]))
    return inputs["name"], {"arn": mocks.arn("logs", f"log-group:{inputs['name']}")}


def _archive_bytes(archive: pulumi.FileArchive) -> bytes:
    return (PROJECT_ROOT / str(archive.path)).read_bytes()


def _layer(mocks: EmulatorMocks, name: str, inputs: dict[str, Any]) -> Created:
    layer = mocks.client("lambda").publish_layer_version(
        LayerName=inputs["layerName"],
        Description=inputs.get("description", ""),
        Content={"ZipFile": _archive_bytes(inputs["code"])},
        CompatibleRuntimes=inputs.get("compatibleRuntimes", []),
        CompatibleArchitectures=inputs.get("compatibleArchitectures", []),
    )
    arn = layer["LayerVersionArn"]
    return arn, {"arn": arn, "layerArn": layer["LayerArn"], "version": str(layer["Version"])}


def _function(mocks: EmulatorMocks, name: str, inputs: dict[str, Any]) -> Created:
    created = mocks.client("lambda").create_function(
        FunctionName=inputs["name"],
        Description=inputs.get("description", ""),
        Runtime=inputs["runtime"],
        Role=inputs["role"],
        Handler=inputs["handler"],
        Code={"ZipFile": _archive_bytes(inputs["code"])},
        Environment={"Variables": (inputs.get("environment") or {}).get("variables", {})},
        Timeout=int(inputs["timeout"]),
        MemorySize=int(inputs["memorySize"]),
        Architectures=inputs["architectures"],
        Layers=inputs.get("layers", []),
        TracingConfig={"Mode": (inputs.get("tracingConfig") or {}).get("mode", "PassThrough")},
    )
    arn = created["FunctionArn"]
    invoke_arn = f"arn:aws:apigateway:{mocks.region}:lambda:path/2015-03-31/functions/{arn}/invocations"
    return inputs["name"], {"arn": arn, "invokeArn": invoke_arn, "qualifiedArn": f"{arn}:$LATEST"}


def _permission(mocks: EmulatorMocks, name: str, inputs: dict[str, Any]) -> Created:
    statement_id = inputs.get("statementId") or name
    mocks.client("lambda").add_permission(
        FunctionName=inputs["function"],
        StatementId=statement_id,
        Action=inputs["action"],
        Principal=inputs["principal"],
        SourceArn=inputs["sourceArn"],
    )
    return statement_id, {"statementId": statement_id}


def _event_source_mapping(mocks: EmulatorMocks, name: str, inputs: dict[str, Any]) -> Created:
    mapping = mocks.client("lambda").create_event_source_mapping(
        EventSourceArn=inputs["eventSourceArn"],
        FunctionName=inputs["functionName"],
        BatchSize=int(inputs["batchSize"]),
        MaximumBatchingWindowInSeconds=int(inputs.get("maximumBatchingWindowInSeconds", 0)),
        FunctionResponseTypes=inputs.get("functionResponseTypes", []),
        Enabled=inputs.get("enabled", True),
    )
    detach_moto_sqs_trigger(mapping["EventSourceArn"], mapping["FunctionArn"], mocks.region)
    return mapping["UUID"], {"uuid": mapping["UUID"], "functionArn": mapping["FunctionArn"]}


def _state_machine(mocks: EmulatorMocks, name: str, inputs: dict[str, Any]) -> Created:
    arn = mocks.client("stepfunctions").create_state_machine(
        name=inputs["name"],
        definition=inputs["definition"],
        roleArn=inputs["roleArn"],
        type=inputs.get("type", "STANDARD"),
        tracingConfiguration={"enabled": bool((inputs.get("tracingConfiguration") or {}).get("enabled"))},
    )["stateMachineArn"]
    return arn, {"arn": arn}


def _rule_state(inputs: dict[str, Any]) -> str:
    if inputs.get("state"):
        return str(inputs["state"])
    return "DISABLED" if inputs.get("isEnabled") is False else "ENABLED"


def _event_rule(mocks: EmulatorMocks, name: str, inputs: dict[str, Any]) -> Created:
    rule = {
        "EventPattern": inputs.get("eventPattern"),
        "ScheduleExpression": inputs.get("scheduleExpression"),
    }
    arn = mocks.client("events").put_rule(
        Name=inputs["name"],
        Description=inputs.get("description", ""),
        State=_rule_state(inputs),
        **{key: value for key, value in rule.items() if value},
    )["RuleArn"]
    return inputs["name"], {"arn": arn, "name": inputs["name"]}


def _event_target(mocks: EmulatorMocks, name: str, inputs: dict[str, Any]) -> Created:
    target_id = inputs.get("targetId") or name
    target: dict[str, Any] = {"Id": target_id, "Arn": inputs["arn"]}
    if inputs.get("input"):
        target["Input"] = inputs["input"]
    if inputs.get("inputPath"):
        target["InputPath"] = inputs["inputPath"]
    transformer = inputs.get("inputTransformer")
    if transformer:
        target["InputTransformer"] = {
            "InputPathsMap": transformer.get("inputPaths", {}),
            "InputTemplate": transformer.get("inputTemplate", ""),
        }
    dead_letter = inputs.get("deadLetterConfig")
    if dead_letter:
        target["DeadLetterConfig"] = {"Arn": dead_letter["arn"]}
    mocks.client("events").put_targets(Rule=inputs["rule"], Targets=[target])
    return f"{inputs['rule']}-{target_id}", {"targetId": target_id}


def _rest_api(mocks: EmulatorMocks, name: str, inputs: dict[str, Any]) -> Created:
    types = (inputs.get("endpointConfiguration") or {}).get("types", "REGIONAL")
    api = mocks.client("apigateway").create_rest_api(
        name=inputs["name"],
        description=inputs.get("description", ""),
        endpointConfiguration={"types": [types] if isinstance(types, str) else list(types)},
    )
    return api["id"], {
        "rootResourceId": api["rootResourceId"],
        "executionArn": mocks.arn("execute-api", api["id"]),
        "arn": f"arn:aws:apigateway:{mocks.region}::/restapis/{api['id']}",
    }


def _api_resource(mocks: EmulatorMocks, name: str, inputs: dict[str, Any]) -> Created:
    resource = mocks.client("apigateway").create_resource(
        restApiId=inputs["restApi"], parentId=inputs["parentId"], pathPart=inputs["pathPart"]
    )
    return resource["id"], {"path": resource["path"]}


def _api_method(mocks: EmulatorMocks, name: str, inputs: dict[str, Any]) -> Created:
    mocks.client("apigateway").put_method(
        restApiId=inputs["restApi"],
        resourceId=inputs["resourceId"],
        httpMethod=inputs["httpMethod"],
        authorizationType=inputs["authorization"],
        apiKeyRequired=bool(inputs.get("apiKeyRequired")),
    )
    return f"agm-{inputs['restApi']}-{inputs['resourceId']}-{inputs['httpMethod']}", {}


def _api_integration(mocks: EmulatorMocks, name: str, inputs: dict[str, Any]) -> Created:
    mocks.client("apigateway").put_integration(
        restApiId=inputs["restApi"],
        resourceId=inputs["resourceId"],
        httpMethod=inputs["httpMethod"],
        type=inputs["type"],
        integrationHttpMethod=inputs["integrationHttpMethod"],
        uri=inputs["uri"],
    )
    return f"agi-{inputs['restApi']}-{inputs['resourceId']}-{inputs['httpMethod']}", {}


def _api_deployment(mocks: EmulatorMocks, name: str, inputs: dict[str, Any]) -> Created:
    deployment = mocks.client("apigateway").create_deployment(
        restApiId=inputs["restApi"], description=inputs.get("description", "")
    )
    return deployment["id"], {}


def _api_stage(mocks: EmulatorMocks, name: str, inputs: dict[str, Any]) -> Created:
    mocks.client("apigateway").create_stage(
        restApiId=inputs["restApi"],
        stageName=inputs["stageName"],
        deploymentId=inputs["deployment"],
        tracingEnabled=bool(inputs.get("xrayTracingEnabled")),
    )
    stage_id = f"ags-{inputs['restApi']}-{inputs['stageName']}"
    invoke_url = mocks.gateway_url or (
        f"https://{inputs['restApi']}.execute-api.{mocks.region}.amazonaws.com/{inputs['stageName']}"
    )
    return stage_id, {"invokeUrl": invoke_url, "stageName": inputs["stageName"]}


CREATORS: dict[str, Creator] = {
    "aws:dynamodb/table:Table": _table,
    "aws:sqs/queue:Queue": _queue,
    "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy": _redrive_allow_policy,
    "aws:sqs/queuePolicy:QueuePolicy": _queue_policy,
    "aws:sns/topic:Topic": _topic,
    "aws:sns/topicPolicy:TopicPolicy": _topic_policy,
    "aws:cloudwatch/dashboard:Dashboard": _dashboard,
    "aws:iam/role:Role": _role,
    "aws:iam/rolePolicy:RolePolicy": _role_policy,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:lambda/layerVersion:LayerVersion": _layer,
    "aws:lambda/function:Function": _function,
    "aws:lambda/permission:Permission": _permission,
    "aws:lambda/eventSourceMapping:EventSourceMapping": _event_source_mapping,
    "aws:sfn/stateMachine:StateMachine": _state_machine,
    "aws:cloudwatch/eventRule:EventRule": _event_rule,
    "aws:cloudwatch/eventTarget:EventTarget": _event_target,
    "aws:apigateway/restApi:RestApi": _rest_api,
    "aws:apigateway/resource:Resource": _api_resource,
    "aws:apigateway/method:Method": _api_method,
    "aws:apigateway/integration:Integration": _api_integration,
    "aws:apigateway/deployment:Deployment": _api_deployment,
    "aws:apigateway/stage:Stage": _api_stage,
    **API_ACCESS_CREATORS,
}
