"""Lookups over a recorded program run, and the expectations a stack's YAML implies.

Everything here reads what the program recorded (``ProgramRun``) or what the stack's
``Pulumi.<stack>.yaml`` says; nothing calls the program's own helpers to compute an
expected value, so a test cannot pass because program and expectation share a bug.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from components.config import StackSettings
from local.pulumi_runner import stack_config
from local.recorded_program import ProgramRun, RecordedResource

STACKS = ("dev", "prod")

# Pulumi resource types, as the provider sees them.
FUNCTION = "aws:lambda/function:Function"
LAYER = "aws:lambda/layerVersion:LayerVersion"
EVENT_SOURCE_MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
PERMISSION = "aws:lambda/permission:Permission"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
TABLE = "aws:dynamodb/table:Table"
QUEUE = "aws:sqs/queue:Queue"
REDRIVE_ALLOW_POLICY = "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
TOPIC_SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
REST_API = "aws:apigateway/restApi:RestApi"
API_RESOURCE = "aws:apigateway/resource:Resource"
API_METHOD = "aws:apigateway/method:Method"
API_INTEGRATION = "aws:apigateway/integration:Integration"
API_DEPLOYMENT = "aws:apigateway/deployment:Deployment"
API_STAGE = "aws:apigateway/stage:Stage"
API_METHOD_SETTINGS = "aws:apigateway/methodSettings:MethodSettings"
API_GATEWAY_RESPONSE = "aws:apigateway/response:Response"
API_KEY = "aws:apigateway/apiKey:ApiKey"
USAGE_PLAN = "aws:apigateway/usagePlan:UsagePlan"
USAGE_PLAN_KEY = "aws:apigateway/usagePlanKey:UsagePlanKey"
API_KEY_TYPES = (API_KEY, USAGE_PLAN, USAGE_PLAN_KEY, "dofs:index:ApiKeys")
SAMPLING_RULE = "aws:xray/samplingRule:SamplingRule"

COMPONENT_PREFIX = "dofs:index:"

# Logical names of the six PythonFunction components; the Lambda is dofs-<name>-<env>.
API_HANDLER = "api-handler"
VALIDATOR = "validator"
ORDER_STORAGE = "order-storage"
FULFILL_ORDER = "fulfill-order"
DLQ_PROCESSOR = "dlq-processor"
RECONCILER = "reconciler"
FUNCTIONS = (API_HANDLER, VALIDATOR, ORDER_STORAGE, FULFILL_ORDER, DLQ_PROCESSOR, RECONCILER)

# The reconciler's timeout, fixed: under the schedule's shortest period of one minute.
RECONCILER_TIMEOUT_SECONDS = 50

# The API Gateway path every unknown path falls into.
CATCH_ALL_PATH = "/{proxy+}"


def function_name(component: str, env: str) -> str:
    return f"dofs-{component}-{env}"


# --- stack configuration ------------------------------------------------------------


def _field_of(key: str) -> str:
    """``dofs:fulfillTimeoutSeconds`` -> ``fulfill_timeout_seconds``."""
    name = key.split(":", 1)[1]
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


class StackConfig:
    """A stack's YAML config, falling back to the documented default of an unset key."""

    def __init__(self, stack: str, overrides: dict[str, str] | None = None) -> None:
        self.stack = stack
        self.values = {**stack_config(stack), **(overrides or {})}

    def raw(self, key: str) -> str:
        if key in self.values:
            return self.values[key]
        return str(StackSettings.model_fields[_field_of(key)].default)

    def integer(self, key: str) -> int:
        return int(self.raw(key))

    def decimal(self, key: str) -> Decimal:
        return Decimal(self.raw(key))

    def flag(self, key: str) -> bool:
        value = self.raw(key).strip().lower()
        assert value in {"true", "false"}, f"{key} is not a boolean in Pulumi.{self.stack}.yaml"
        return value == "true"


# --- recorded resources -------------------------------------------------------------


def resource_id(resource: RecordedResource) -> str:
    """The id the harness's mocks give a resource (``RecordingMocks.provider_id``)."""
    return resource.id


def one(run: ProgramRun, typ: str, name: str) -> RecordedResource:
    matches = [r for r in run.of_type(typ) if r.name == name]
    assert len(matches) == 1, f"expected one {typ} named {name}, found {len(matches)}"
    return matches[0]


def by_physical_name(run: ProgramRun, typ: str, physical: str) -> RecordedResource:
    matches = [r for r in run.of_type(typ) if r.inputs.get("name") == physical]
    assert len(matches) == 1, f"expected one {typ} with name {physical}, found {len(matches)}"
    return matches[0]


def components(run: ProgramRun) -> list[RecordedResource]:
    return [r for r in run.resources if r.type.startswith(COMPONENT_PREFIX)]


def function(run: ProgramRun, component: str) -> RecordedResource:
    return run.function(function_name(component, run.stack))


def orders_table(run: ProgramRun) -> RecordedResource:
    return by_physical_name(run, TABLE, f"dofs-orders-{run.stack}")


def failed_orders_table(run: ProgramRun) -> RecordedResource:
    return by_physical_name(run, TABLE, f"dofs-failed-orders-{run.stack}")


def order_queue(run: ProgramRun) -> RecordedResource:
    return by_physical_name(run, QUEUE, f"dofs-order-queue-{run.stack}")


def dead_letter_queue(run: ProgramRun) -> RecordedResource:
    return by_physical_name(run, QUEUE, f"dofs-order-dlq-{run.stack}")


def execution_ended_rule(run: ProgramRun) -> RecordedResource:
    """The safety net's rule: executions that ended FAILED, TIMED_OUT or ABORTED."""
    return by_physical_name(run, EVENT_RULE, f"dofs-order-execution-ended-{run.stack}")


def reconcile_schedule(run: ProgramRun) -> RecordedResource:
    """The rule that runs the reconciler on a schedule."""
    return by_physical_name(run, EVENT_RULE, f"dofs-order-reconciler-{run.stack}")


def targets_of(run: ProgramRun, rule: RecordedResource) -> list[RecordedResource]:
    """The EventBridge targets of ``rule`` (a target names its rule by the rule's name)."""
    return [t for t in run.of_type(EVENT_TARGET) if t.inputs["rule"] == rule.inputs["name"]]


def invoke_permissions(run: ProgramRun, component: str) -> list[RecordedResource]:
    """The resource-based permissions that let someone invoke ``component``'s function."""
    fn = function(run, component)
    return [
        p for p in run.of_type(PERMISSION) if p.inputs["function"] in {fn.inputs["name"], fn.outputs["arn"]}
    ]


def state_machine(run: ProgramRun) -> RecordedResource:
    (machine,) = run.of_type(STATE_MACHINE)
    return machine


def only(run: ProgramRun, typ: str) -> RecordedResource:
    resources = run.of_type(typ)
    assert len(resources) == 1, f"expected one {typ}, found {len(resources)}"
    return resources[0]


def role_with_arn(run: ProgramRun, arn: str) -> RecordedResource:
    matches = [r for r in run.of_type(ROLE) if r.outputs.get("arn") == arn]
    assert len(matches) == 1, f"expected one role with ARN {arn}, found {len(matches)}"
    return matches[0]


def policies_of_role(run: ProgramRun, role: RecordedResource) -> list[dict[str, Any]]:
    """Every inline policy attached to ``role``, parsed."""
    return [
        json.loads(p.inputs["policy"])
        for p in run.of_type(ROLE_POLICY)
        if p.inputs["role"] in {resource_id(role), role.outputs.get("name")}
    ]


def policy_of_role(run: ProgramRun, role: RecordedResource) -> dict[str, Any]:
    policies = policies_of_role(run, role)
    assert len(policies) == 1, f"role {role.name} has {len(policies)} inline policies"
    return policies[0]


def state_machine_role(run: ProgramRun) -> RecordedResource:
    return role_with_arn(run, state_machine(run).inputs["roleArn"])


def function_role(run: ProgramRun, component: str) -> RecordedResource:
    return role_with_arn(run, function(run, component).inputs["role"])


# --- IAM documents ------------------------------------------------------------------


def as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return as_list(document["Statement"])


Grant = tuple[str, str]


def grants(document: dict[str, Any]) -> set[Grant]:
    """Every (action, resource) pair the document allows."""
    pairs: set[Grant] = set()
    for statement in statements(document):
        for action in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                pairs.add((action, resource))
    return pairs


def pairs(actions: Iterable[str], resources: Iterable[str]) -> set[Grant]:
    return {(action, resource) for action in actions for resource in list(resources)}


# --- state machine definition -------------------------------------------------------


def transitions(state: dict[str, Any]) -> Iterator[str]:
    """Names of every state ``state`` can move to."""
    if "Next" in state:
        yield state["Next"]
    if "Default" in state:
        yield state["Default"]
    for choice in state.get("Choices", []):
        yield choice["Next"]
    for catcher in state.get("Catch", []):
        yield catcher["Next"]


def reachable(definition: dict[str, Any]) -> set[str]:
    seen: set[str] = set()
    pending = [definition["StartAt"]]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        pending.extend(transitions(definition["States"][name]))
    return seen


# --- API Gateway tree ---------------------------------------------------------------


def api_paths(run: ProgramRun) -> dict[str, str]:
    """Every API Gateway resource path (``/orders/{order_id}``) mapped to its id; root is ``/``."""
    root = only(run, REST_API).outputs["rootResourceId"]
    by_id = {resource_id(r): r for r in run.of_type(API_RESOURCE)}

    def path_of(resource: RecordedResource) -> str:
        parent = resource.inputs["parentId"]
        prefix = "" if parent == root else path_of(by_id[parent])
        return f"{prefix}/{resource.inputs['pathPart']}"

    paths = {path_of(r): rid for rid, r in by_id.items()}
    paths["/"] = root
    return paths


def api_methods(run: ProgramRun, typ: str = API_METHOD) -> dict[tuple[str, str], RecordedResource]:
    """Methods (or integrations) keyed by (path, HTTP method)."""
    path_by_id = {rid: path for path, rid in api_paths(run).items()}
    keyed: dict[tuple[str, str], RecordedResource] = {}
    for resource in run.of_type(typ):
        key = (path_by_id[resource.inputs["resourceId"]], resource.inputs["httpMethod"])
        assert key not in keyed, f"two {typ} for {key}"
        keyed[key] = resource
    return keyed


def redeployment_hash(run: ProgramRun) -> str:
    value: str = only(run, API_DEPLOYMENT).inputs["triggers"]["redeployment"]
    return value
