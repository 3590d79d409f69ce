"""The pack's validators: plain functions of (args, report) that ``__main__`` wraps in
policies, so that tests can call them without the policy server.

Which stacks are production (authenticated API, protected tables) is policy config,
``productionStacks`` (default ``["prod"]``), matched against the stack in each resource's
URN: a policy pack sees resources, not the stack's ``dofs:protectData``, and the pack
sets the floor whatever a stack's config says.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import (
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    StackValidationArgs,
)

from handlers.api_routes import ROUTES
from handlers.faults import DOFS_FAULTS
from policies.iam_rules import as_list, document_problems, documents_of, parse_document

PRODUCTION_STACKS = "productionStacks"
DEFAULT_PRODUCTION_STACKS = ("prod",)
PRODUCTION_CONFIG = PolicyConfigSchema(
    {PRODUCTION_STACKS: {"type": "array", "items": {"type": "string"}, "default": ["prod"]}}
)

QUEUE = "aws:sqs/queue:Queue"
FUNCTION = "aws:lambda/function:Function"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
TABLE = "aws:dynamodb/table:Table"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
COMPOSITE_ALARM = "aws:cloudwatch/compositeAlarm:CompositeAlarm"
REST_API = "aws:apigateway/restApi:RestApi"
API_RESOURCE = "aws:apigateway/resource:Resource"
API_METHOD = "aws:apigateway/method:Method"
API_STAGE = "aws:apigateway/stage:Stage"
METHOD_SETTINGS = "aws:apigateway/methodSettings:MethodSettings"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
EVENT_SOURCE_MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"

ARM64 = "arm64"
ALL_METHODS = "*/*"
AUTHENTICATING = frozenset({"AWS_IAM", "CUSTOM", "COGNITO_USER_POOLS"})


def stack_of(urn: str) -> str:
    """``urn:pulumi:<stack>::<project>::<type>::<name>`` -> ``<stack>``."""
    return urn.split("::", 1)[0].rsplit(":", 1)[-1]


def is_production(urn: str, config: Mapping[str, Any]) -> bool:
    return stack_of(urn) in config.get(PRODUCTION_STACKS, DEFAULT_PRODUCTION_STACKS)


# --- resource validators -------------------------------------------------------------


def iam_statements_named(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for document in documents_of(args.resource_type, args.props):
        for problem in document_problems(document):
            report(problem, None)


def queue_encrypted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == QUEUE and not (
        args.props.get("sqsManagedSseEnabled") or args.props.get("kmsMasterKeyId")
    ):
        report("the queue is not encrypted: set sqsManagedSseEnabled or kmsMasterKeyId", None)


def function_settings(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != FUNCTION:
        return
    props = args.props
    if as_list(props.get("architectures") or []) != [ARM64]:
        report(f"the function runs on {props.get('architectures') or 'x86_64'}, not {ARM64}", None)
    if (props.get("tracingConfig") or {}).get("mode") != "Active":
        report("the function's tracing is not Active", None)
    variables = (props.get("environment") or {}).get("variables") or {}
    if DOFS_FAULTS in variables:
        report(f"the function carries the fault-injection variable {DOFS_FAULTS}", None)


def table_protected(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != TABLE:
        return
    props = args.props
    if not (props.get("serverSideEncryption") or {}).get("enabled"):
        report("the table is not encrypted with a KMS key: serverSideEncryption.enabled", None)
    if is_production(args.urn, args.get_config()):
        if not (props.get("pointInTimeRecovery") or {}).get("enabled"):
            report(f"{stack_of(args.urn)} protects data: the table needs point-in-time recovery", None)
        if not props.get("deletionProtectionEnabled"):
            report(f"{stack_of(args.urn)} protects data: the table needs deletion protection", None)


def alarm_has_actions(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in {METRIC_ALARM, COMPOSITE_ALARM}:
        return
    if args.props.get("actionsEnabled") is False:
        report("the alarm's actions are disabled", None)
    for key in ("alarmActions", "okActions"):
        if not args.props.get(key):
            report(f"the alarm has no {key}: nobody is told when it changes state", None)


# --- stack validators ----------------------------------------------------------------


def of_type(resources: Iterable[PolicyResource], *types: str) -> list[PolicyResource]:
    return [r for r in resources if r.resource_type in types]


def failure_destinations(resources: list[PolicyResource]) -> set[str]:
    """ARNs of queues something sends its failures to: dead-letter queues, which need no
    redrive of their own."""
    arns: set[str] = set()
    for queue in of_type(resources, QUEUE):
        redrive = parse_document(queue.props.get("redrivePolicy"))
        if redrive:
            arns.add(str(redrive.get("deadLetterTargetArn")))
    for target in of_type(resources, EVENT_TARGET):
        arns.add(str((target.props.get("deadLetterConfig") or {}).get("arn")))
    for function in of_type(resources, FUNCTION):
        arns.add(str((function.props.get("deadLetterConfig") or {}).get("targetArn")))
    for mapping in of_type(resources, EVENT_SOURCE_MAPPING):
        on_failure = (mapping.props.get("destinationConfig") or {}).get("onFailure") or {}
        arns.add(str(on_failure.get("destinationArn")))
    return arns


def queues_redrive(args: StackValidationArgs, report: ReportViolation) -> None:
    dead_letter_queues = failure_destinations(args.resources)
    for queue in of_type(args.resources, QUEUE):
        if queue.props.get("arn") not in dead_letter_queues and not queue.props.get("redrivePolicy"):
            report("the queue is no dead-letter queue and has no redrive policy", queue.urn)


def functions_log_retention(args: StackValidationArgs, report: ReportViolation) -> None:
    retention = {
        group.props.get("name"): group.props.get("retentionInDays")
        for group in of_type(args.resources, LOG_GROUP)
    }
    for function in of_type(args.resources, FUNCTION):
        name = (function.props.get("loggingConfig") or {}).get("logGroup") or (
            f"/aws/lambda/{function.props.get('name')}"
        )
        if name not in retention:
            report(
                f"the function's log group {name} is not in the stack: it would keep logs forever",
                function.urn,
            )
        elif not retention[name]:
            report(f"the function's log group {name} has no retention", function.urn)


def api_stages_throttled(args: StackValidationArgs, report: ReportViolation) -> None:
    throttled = {
        (s.props.get("restApi"), s.props.get("stageName"))
        for s in of_type(args.resources, METHOD_SETTINGS)
        if s.props.get("methodPath") == ALL_METHODS
        and (s.props.get("settings") or {}).get("throttlingRateLimit", 0) > 0
        and (s.props.get("settings") or {}).get("throttlingBurstLimit", 0) > 0
    }
    for stage in of_type(args.resources, API_STAGE):
        if (stage.props.get("restApi"), stage.props.get("stageName")) not in throttled:
            report("the stage has no MethodSettings throttling */* (rate and burst)", stage.urn)


def api_path(resource: PolicyResource) -> str | None:
    """The API path a method or API resource serves, from the resources it depends on."""
    key = "resourceId" if resource.resource_type == API_METHOD else "parentId"
    for parent in resource.property_dependencies.get(key, []):
        if parent.resource_type == REST_API:
            return "/" if resource.resource_type == API_METHOD else f"/{resource.props.get('pathPart')}"
        if parent.resource_type == API_RESOURCE:
            prefix = api_path(parent)
            if prefix is None:
                return None
            if resource.resource_type == API_METHOD:
                return prefix
            return f"{prefix.rstrip('/')}/{resource.props.get('pathPart')}"
    return None


def api_authenticated_in_production(args: StackValidationArgs, report: ReportViolation) -> None:
    if not args.resources or not is_production(args.resources[0].urn, args.get_config()):
        return
    if not of_type(args.resources, REST_API):
        return
    methods = {(m.props.get("httpMethod"), api_path(m)): m for m in of_type(args.resources, API_METHOD)}
    for route in (r for r in ROUTES if r.authenticated):
        method = methods.get((route.method, route.resource))
        if method is None:
            report(f"no API Gateway method for {route.method} {route.resource}: cannot check its auth", None)
        elif not (method.props.get("apiKeyRequired") or method.props.get("authorization") in AUTHENTICATING):
            report(f"{route.method} {route.resource} takes no API key and no IAM auth", method.urn)
