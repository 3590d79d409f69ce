"""Least privilege: exactly the grants each function and the state machine need, no wildcards."""

from __future__ import annotations

import json
from typing import Any

import pytest

from handlers.models import IN_FLIGHT_INDEX
from local.recorded_program import ProgramRun
from tests.infra import helpers as h

LOG_WRITE = {"logs:CreateLogStream", "logs:PutLogEvents"}
# What Lambda needs to send traces (Lambda developer guide, "Using AWS X-Ray").
LAMBDA_XRAY = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
# Step Functions' documented policy for X-Ray tracing ("IAM policies for AWS X-Ray").
STEP_FUNCTIONS_XRAY = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
}
# Step Functions' documented policy for logging to CloudWatch Logs; none of these
# actions supports resource-level permissions.
STEP_FUNCTIONS_LOG_DELIVERY = {
    "logs:CreateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:DescribeLogGroups",
    "logs:DescribeResourcePolicies",
    "logs:GetLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:UpdateLogDelivery",
}
SQS_CONSUME = {
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ReceiveMessage",
}
ORDER_READ_WRITE = {"dynamodb:GetItem", "dynamodb:UpdateItem"}
WILDCARD_RESOURCE_ACTIONS = STEP_FUNCTIONS_LOG_DELIVERY


def _all_policies(run: ProgramRun) -> list[tuple[str, dict[str, Any]]]:
    named = [(c, h.policy_of_role(run, h.function_role(run, c))) for c in h.FUNCTIONS]
    return [*named, ("state-machine", h.policy_of_role(run, h.state_machine_role(run)))]


def _expected_function_grants(run: ProgramRun, component: str) -> set[h.Grant]:
    fn = h.function(run, component)
    log_group = h.by_physical_name(run, h.LOG_GROUP, fn.inputs["loggingConfig"]["logGroup"])
    orders = h.orders_table(run).outputs["arn"]
    failed = h.failed_orders_table(run).outputs["arn"]
    machine = h.state_machine(run).outputs["arn"]
    base = h.pairs(LOG_WRITE, [f"{log_group.outputs['arn']}:*"]) | h.pairs(LAMBDA_XRAY, ["*"])
    specific = {
        h.API_HANDLER: h.pairs({"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}, [orders])
        | h.pairs({"states:StartExecution"}, [machine]),
        h.VALIDATOR: set(),
        h.ORDER_STORAGE: h.pairs(ORDER_READ_WRITE, [orders]) | h.pairs({"dynamodb:PutItem"}, [failed]),
        h.FULFILL_ORDER: h.pairs(ORDER_READ_WRITE, [orders])
        | h.pairs(SQS_CONSUME, [h.order_queue(run).outputs["arn"]]),
        h.DLQ_PROCESSOR: h.pairs(ORDER_READ_WRITE, [orders])
        | h.pairs({"dynamodb:PutItem"}, [failed])
        | h.pairs(SQS_CONSUME, [h.dead_letter_queue(run).outputs["arn"]]),
        # Finds due orders through the in-flight index only, re-reads and moves each one,
        # fails it for good after its last attempt (withdrawing the record if the order
        # moved on meanwhile), restarts its execution (never asking how one went: EXPRESS
        # executions cannot be described), and re-enqueues it when the queue has no
        # backlog; it never consumes from either queue.
        h.RECONCILER: h.pairs({"dynamodb:Query"}, [f"{orders}/index/{IN_FLIGHT_INDEX}"])
        | h.pairs(ORDER_READ_WRITE, [orders])
        | h.pairs({"dynamodb:PutItem", "dynamodb:DeleteItem"}, [failed])
        | h.pairs({"states:StartExecution"}, [machine])
        | h.pairs({"sqs:SendMessage", "sqs:GetQueueAttributes"}, [h.order_queue(run).outputs["arn"]]),
    }
    return base | specific[component]


def test_every_role_has_exactly_one_inline_policy(stack_run: ProgramRun) -> None:
    roles = stack_run.of_type(h.ROLE)
    assert len(roles) == len(h.FUNCTIONS) + 1
    for role in roles:
        assert len(h.policies_of_role(stack_run, role)) == 1, role.name


def test_no_wildcard_actions_and_only_allow_statements(stack_run: ProgramRun) -> None:
    for owner, document in _all_policies(stack_run):
        for statement in h.statements(document):
            assert statement["Effect"] == "Allow", owner
            assert not {"NotAction", "NotResource", "Principal"} & set(statement), owner
            for action in h.as_list(statement["Action"]):
                assert "*" not in action and "?" not in action, (owner, action)
                service, _, name = action.partition(":")
                assert service and name, (owner, action)


def test_star_resource_only_where_aws_offers_no_resource_level_permission(stack_run: ProgramRun) -> None:
    for owner, document in _all_policies(stack_run):
        for statement in h.statements(document):
            resources = h.as_list(statement["Resource"])
            if "*" in resources:
                # Log delivery is the state machine's business; a function only traces.
                allowed = WILDCARD_RESOURCE_ACTIONS if owner == "state-machine" else set()
                actions = set(h.as_list(statement["Action"]))
                assert all(a.startswith("xray:") or a in allowed for a in actions), (owner, statement)


def test_no_resource_pattern_wider_than_a_log_stream_or_function_version(stack_run: ProgramRun) -> None:
    """Only ``<log group ARN>:*`` and ``<function ARN>:*`` may end in a wildcard (no grant
    on executions: nothing asks Step Functions about one)."""
    for owner, document in _all_policies(stack_run):
        for action, resource in h.grants(document):
            if resource == "*" or "*" not in resource:
                continue
            assert resource.endswith(":*") and "*" not in resource[:-2], (owner, action, resource)
            assert resource.startswith(("arn:aws:logs:", "arn:aws:lambda:")), (owner, action, resource)


@pytest.mark.parametrize("component", h.FUNCTIONS)
def test_function_grants_are_exactly_what_its_handler_needs(stack_run: ProgramRun, component: str) -> None:
    document = h.policy_of_role(stack_run, h.function_role(stack_run, component))
    assert h.grants(document) == _expected_function_grants(stack_run, component)


def test_harness_policy_lookup_agrees(stack_run: ProgramRun) -> None:
    for component in h.FUNCTIONS:
        name = h.function_name(component, stack_run.stack)
        assert stack_run.policy_of(name) == h.policy_of_role(stack_run, h.function_role(stack_run, component))


def test_validator_can_only_log_and_trace(stack_run: ProgramRun) -> None:
    document = h.policy_of_role(stack_run, h.function_role(stack_run, h.VALIDATOR))
    services = {action.split(":")[0] for action, _ in h.grants(document)}
    assert services == {"logs", "xray"}


def test_only_the_api_handler_and_the_reconciler_start_executions_and_none_inspects_one(
    stack_run: ProgramRun,
) -> None:
    machine = h.state_machine(stack_run).outputs["arn"]
    expected = {
        h.API_HANDLER: {("states:StartExecution", machine)},
        h.RECONCILER: {("states:StartExecution", machine)},
    }
    for component in h.FUNCTIONS:
        document = h.policy_of_role(stack_run, h.function_role(stack_run, component))
        granted = {(a, r) for a, r in h.grants(document) if a.startswith("states:")}
        assert granted == expected.get(component, set()), component


def test_the_reconciler_queries_the_in_flight_index_and_nothing_wider(stack_run: ProgramRun) -> None:
    """A Query on the table itself, or a Scan, would let it read every order's items."""
    orders = h.orders_table(stack_run).outputs["arn"]
    for owner, document in _all_policies(stack_run):
        reads = {(a, r) for a, r in h.grants(document) if a in {"dynamodb:Query", "dynamodb:Scan"}}
        expected = (
            {("dynamodb:Query", f"{orders}/index/{IN_FLIGHT_INDEX}")} if owner == h.RECONCILER else set()
        )
        assert reads == expected, owner


def test_only_the_workflow_and_the_reconciler_send_to_the_order_queue(stack_run: ProgramRun) -> None:
    senders = {
        owner
        for owner, document in _all_policies(stack_run)
        if any(a == "sqs:SendMessage" for a, _ in h.grants(document))
    }
    assert senders == {"state-machine", h.RECONCILER}
    document = h.policy_of_role(stack_run, h.function_role(stack_run, h.RECONCILER))
    assert {r for a, r in h.grants(document) if a.startswith("sqs:")} == {
        h.order_queue(stack_run).outputs["arn"]
    }


def test_fulfill_order_cannot_touch_failed_orders_or_the_dlq(stack_run: ProgramRun) -> None:
    document = h.policy_of_role(stack_run, h.function_role(stack_run, h.FULFILL_ORDER))
    resources = {r for _, r in h.grants(document)}
    assert h.failed_orders_table(stack_run).outputs["arn"] not in resources
    assert h.dead_letter_queue(stack_run).outputs["arn"] not in resources
    assert not any(a.startswith("sqs:Send") for a, _ in h.grants(document))


def test_only_failure_recorders_write_failed_orders(stack_run: ProgramRun) -> None:
    failed = h.failed_orders_table(stack_run).outputs["arn"]
    writers = set()
    for owner, document in _all_policies(stack_run):
        if any(resource == failed for _, resource in h.grants(document)):
            writers.add(owner)
    # The reconciler records an order it has driven on reconcileMaxAttempts times in vain.
    assert writers == {h.ORDER_STORAGE, h.DLQ_PROCESSOR, h.RECONCILER}


def test_each_function_writes_only_its_own_log_group(stack_run: ProgramRun) -> None:
    for component in h.FUNCTIONS:
        document = h.policy_of_role(stack_run, h.function_role(stack_run, component))
        log_resources = {r for a, r in h.grants(document) if a in LOG_WRITE}
        group = h.by_physical_name(
            stack_run, h.LOG_GROUP, f"/aws/lambda/{h.function_name(component, stack_run.stack)}"
        )
        assert log_resources == {f"{group.outputs['arn']}:*"}, component


def _state_machine_grants(run: ProgramRun) -> set[h.Grant]:
    return h.grants(h.policy_of_role(run, h.state_machine_role(run)))


def test_state_machine_grants_are_exactly_what_the_definition_uses(stack_run: ProgramRun) -> None:
    validator = h.function(stack_run, h.VALIDATOR).outputs["arn"]
    storage = h.function(stack_run, h.ORDER_STORAGE).outputs["arn"]
    expected = (
        h.pairs({"lambda:InvokeFunction"}, [validator, f"{validator}:*", storage, f"{storage}:*"])
        | h.pairs({"sqs:SendMessage"}, [h.order_queue(stack_run).outputs["arn"]])
        | h.pairs(STEP_FUNCTIONS_LOG_DELIVERY, ["*"])
    )
    granted = _state_machine_grants(stack_run)
    tracing = {(a, r) for a, r in granted if a.startswith("xray:")}
    assert granted - tracing == expected
    assert tracing <= h.pairs(STEP_FUNCTIONS_XRAY, ["*"])


def test_state_machine_cannot_touch_a_table(stack_run: ProgramRun) -> None:
    """Orders are written by order_storage only; the workflow itself has no DynamoDB grant."""
    assert {a for a, _ in _state_machine_grants(stack_run) if a.startswith("dynamodb:")} == set()


def test_state_machine_can_invoke_only_its_two_functions(stack_run: ProgramRun) -> None:
    invocable = {r for a, r in _state_machine_grants(stack_run) if a == "lambda:InvokeFunction"}
    for component in (h.API_HANDLER, h.FULFILL_ORDER, h.DLQ_PROCESSOR):
        arn = h.function(stack_run, component).outputs["arn"]
        assert arn not in invocable and f"{arn}:*" not in invocable, component


def test_state_machine_role_has_the_xray_permissions_step_functions_documents(stack_run: ProgramRun) -> None:
    """Tracing is enabled on the state machine; AWS's X-Ray policy for Step Functions has four actions."""
    tracing = {a for a, r in _state_machine_grants(stack_run) if a.startswith("xray:") and r == "*"}
    assert tracing == STEP_FUNCTIONS_XRAY


def test_state_machine_grants_cover_every_resource_its_tasks_use(stack_run: ProgramRun) -> None:
    granted = _state_machine_grants(stack_run)
    definition = stack_run.state_machine_definition()
    queue_arns = {q.outputs["url"]: q.outputs["arn"] for q in stack_run.of_type(h.QUEUE)}
    for name, state in definition["States"].items():
        if state["Type"] != "Task":
            continue
        resource, parameters = state["Resource"], state["Parameters"]
        if resource == "arn:aws:states:::lambda:invoke":
            needed = ("lambda:InvokeFunction", parameters["FunctionName"])
        elif resource == "arn:aws:states:::sqs:sendMessage":
            needed = ("sqs:SendMessage", queue_arns[parameters["QueueUrl"]])
        else:
            pytest.fail(f"{name}: unexpected task resource {resource}")
        assert needed in granted, name


def test_state_machine_role_trusts_only_step_functions_acting_for_this_machine(stack_run: ProgramRun) -> None:
    """Confused deputy: Step Functions may assume the role only for this stack's state
    machine in this account (it sends both keys when it assumes an execution role)."""
    trust = json.loads(h.state_machine_role(stack_run).inputs["assumeRolePolicy"])
    machine_arn = h.state_machine(stack_run).outputs["arn"]
    assert h.statements(trust) == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "states.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": machine_arn.split(":")[4]},
                "ArnLike": {"aws:SourceArn": machine_arn},
            },
        }
    ]


def test_function_roles_trust_lambda_without_source_conditions(stack_run: ProgramRun) -> None:
    """Lambda documents no aws:SourceArn/aws:SourceAccount on the assumption of an execution
    role (Lambda Developer Guide, "Defining Lambda function permissions with an execution
    role"); a condition on keys it does not send would stop every function from starting."""
    for component in h.FUNCTIONS:
        role = h.role_with_arn(stack_run, h.function(stack_run, component).inputs["role"])
        (statement,) = h.statements(json.loads(role.inputs["assumeRolePolicy"]))
        assert statement == {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }


def test_every_invoke_permission_is_scoped_to_its_source_in_this_account(stack_run: ProgramRun) -> None:
    """Confused deputy on the functions' resource policies: each service principal may
    invoke only for one source whose ARN names this account (so source_account, which AWS
    needs for S3's account-less bucket ARNs, adds nothing here)."""
    account = h.state_machine(stack_run).outputs["arn"].split(":")[4]
    permissions = stack_run.of_type(h.PERMISSION)
    assert permissions
    for permission in permissions:
        source_arn = permission.inputs["sourceArn"]
        assert source_arn.split(":")[4] == account, permission.name
        assert not source_arn.endswith(":*"), permission.name


def test_no_role_is_shared(stack_run: ProgramRun) -> None:
    arns = [f.inputs["role"] for f in stack_run.of_type(h.FUNCTION)]
    arns.append(h.state_machine(stack_run).inputs["roleArn"])
    assert len(arns) == len(set(arns)) == len(h.FUNCTIONS) + 1
