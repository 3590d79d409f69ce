"""The local stack is the program: resource for resource, the same as ``pulumi up`` would
create (the program under recording mocks), and the emulator holds exactly that."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest

from handlers.models import DUE_AT, IN_FLIGHT_INDEX, IN_FLIGHT_SHARD
from local.emulator_mocks import INERT, DeclaredResource
from local.recorded_program import ProgramRun, RecordedResource, record_program
from local.scheduler import rate_seconds
from local.stack import LocalStack, LocalStackOptions


@pytest.fixture(scope="module")
def local_stack() -> Iterator[LocalStack]:
    with LocalStack(LocalStackOptions(api_port=0, aws_port=0)) as stack:
        yield stack


@pytest.fixture(scope="module")
def recorded() -> ProgramRun:
    return record_program("dev")


def _key(resource: DeclaredResource | RecordedResource) -> tuple[str, str]:
    return resource.type, resource.name


def _identities(local: LocalStack, recorded: ProgramRun) -> dict[str, str]:
    """What the cloud assigns (ids, URLs, ARNs), local value → recorded value."""
    by_key = {_key(r): r for r in recorded.resources}
    identities: dict[str, str] = {}
    for resource in local.resources:
        twin = by_key[_key(resource)]
        if resource.id != twin.id:
            identities[resource.id] = twin.id
        for name, value in resource.outputs.items():
            theirs = twin.outputs.get(name)
            if isinstance(value, str) and isinstance(theirs, str) and value != theirs:
                identities[value] = theirs
    return identities


def _normalise(value: Any, identities: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _normalise(v, identities) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v, identities) for v in value]
    if isinstance(value, pulumi.FileArchive):
        return ("FileArchive", value.path)
    if not isinstance(value, str):
        return value
    if value in identities:
        return identities[value]
    for local_value in sorted(identities, key=len, reverse=True):
        if ":" in local_value or "/" in local_value:  # URLs and ARNs also appear inside documents
            value = value.replace(local_value, identities[local_value])
    return value


def _comparable(inputs: dict[str, Any], identities: dict[str, str]) -> Any:
    # The redeployment trigger hashes the integrations' ids, which the cloud assigns;
    # test_api.py checks what it covers.
    return _normalise({k: v for k, v in inputs.items() if k != "triggers"}, identities)


def test_the_local_stack_declares_the_same_resources_as_the_program(
    local_stack: LocalStack, recorded: ProgramRun
) -> None:
    assert sorted(map(_key, local_stack.resources)) == sorted(map(_key, recorded.resources))


def test_every_resource_has_the_inputs_pulumi_up_would_send(
    local_stack: LocalStack, recorded: ProgramRun
) -> None:
    identities = _identities(local_stack, recorded)
    by_key = {_key(r): r for r in recorded.resources}

    drifted = [
        _key(resource)
        for resource in local_stack.resources
        if _comparable(resource.inputs, identities) != _comparable(by_key[_key(resource)].inputs, {})
    ]

    assert drifted == []


def test_not_emulated_resources_are_listed_never_dropped(local_stack: LocalStack) -> None:
    listed = {(r.type, r.name) for r, _ in local_stack.not_served()}
    not_created = {_key(r) for r in local_stack.resources if not r.emulated}

    assert not_created <= listed
    assert ("aws:cloudwatch/metricAlarm:MetricAlarm", "order-dlq-not-drained") in listed


def test_the_emulator_holds_each_function_as_declared(local_stack: LocalStack) -> None:
    lambda_ = local_stack.client("lambda")
    for function in local_stack.declared("aws:lambda/function:Function"):
        held = lambda_.get_function_configuration(FunctionName=function.inputs["name"])
        assert held["Handler"] == function.inputs["handler"]
        assert held["Environment"]["Variables"] == function.inputs["environment"]["variables"]
        assert held["Timeout"] == function.inputs["timeout"]
        assert held["MemorySize"] == function.inputs["memorySize"]
        assert held["Role"] == function.inputs["role"]


def test_the_emulator_holds_each_queue_as_declared(local_stack: LocalStack) -> None:
    sqs = local_stack.client("sqs")
    for queue in local_stack.declared("aws:sqs/queue:Queue"):
        held = sqs.get_queue_attributes(QueueUrl=queue.outputs["url"], AttributeNames=["All"])["Attributes"]
        assert int(held["VisibilityTimeout"]) == queue.inputs["visibilityTimeoutSeconds"]
        assert int(held["MessageRetentionPeriod"]) == queue.inputs["messageRetentionSeconds"]
        if queue.inputs.get("redrivePolicy"):
            assert json.loads(held["RedrivePolicy"]) == json.loads(queue.inputs["redrivePolicy"])


def _declared_indexes(table: DeclaredResource) -> dict[str, Any]:
    """Each global secondary index as DescribeTable shows it."""
    indexes = {}
    for index in table.inputs.get("globalSecondaryIndexes") or []:
        keys = [
            {"AttributeName": k["attributeName"], "KeyType": k["keyType"]}
            for k in index.get("keySchemas", [])
        ]
        if not keys:
            keys = [{"AttributeName": index["hashKey"], "KeyType": "HASH"}]
            if index.get("rangeKey"):
                keys.append({"AttributeName": index["rangeKey"], "KeyType": "RANGE"})
        indexes[index["name"]] = (keys, index["projectionType"])
    return indexes


def test_the_emulator_holds_the_tables_and_state_machine_as_declared(local_stack: LocalStack) -> None:
    dynamodb, sfn = local_stack.client("dynamodb"), local_stack.client("stepfunctions")
    for table in local_stack.declared("aws:dynamodb/table:Table"):
        held = dynamodb.describe_table(TableName=table.inputs["name"])["Table"]
        assert held["KeySchema"] == [{"AttributeName": table.inputs["hashKey"], "KeyType": "HASH"}]
        assert held["BillingModeSummary"]["BillingMode"] == table.inputs["billingMode"]
        assert {(a["AttributeName"], a["AttributeType"]) for a in held["AttributeDefinitions"]} == {
            (a["name"], a["type"]) for a in table.inputs["attributes"]
        }
        held_indexes = {
            i["IndexName"]: (i["KeySchema"], i["Projection"]["ProjectionType"])
            for i in held.get("GlobalSecondaryIndexes", [])
        }
        assert held_indexes == _declared_indexes(table)
    (machine,) = local_stack.declared("aws:sfn/stateMachine:StateMachine")
    held_machine = sfn.describe_state_machine(stateMachineArn=machine.outputs["arn"])
    assert held_machine["definition"] == machine.inputs["definition"]
    assert held_machine["type"] == machine.inputs["type"]


def test_the_orders_table_has_the_in_flight_index_the_reconciler_queries(local_stack: LocalStack) -> None:
    orders_table = local_stack.outputs["orders_table_name"]
    held = local_stack.client("dynamodb").describe_table(TableName=orders_table)["Table"]

    (index,) = [i for i in held.get("GlobalSecondaryIndexes", []) if i["IndexName"] == IN_FLIGHT_INDEX]
    assert index["KeySchema"] == [
        {"AttributeName": IN_FLIGHT_SHARD, "KeyType": "HASH"},
        {"AttributeName": DUE_AT, "KeyType": "RANGE"},
    ]
    assert index["Projection"]["ProjectionType"] == "KEYS_ONLY"
    found = local_stack.client("dynamodb").query(
        TableName=orders_table,
        IndexName=IN_FLIGHT_INDEX,
        KeyConditionExpression="#shard = :shard AND #due <= :now",
        ExpressionAttributeNames={"#shard": IN_FLIGHT_SHARD, "#due": DUE_AT},
        ExpressionAttributeValues={":shard": {"S": "00"}, ":now": {"S": "9999-12-31T00:00:00.000Z"}},
    )
    assert found["Items"] == []


def test_the_scheduler_serves_the_declared_schedules(local_stack: LocalStack) -> None:
    rules = {r.inputs["name"]: r for r in local_stack.declared("aws:cloudwatch/eventRule:EventRule")}
    declared = {
        (t.inputs["rule"], t.inputs["arn"])
        for t in local_stack.declared("aws:cloudwatch/eventTarget:EventTarget")
        if rules[t.inputs["rule"]].inputs.get("scheduleExpression")
    }
    served = {(s.schedule.rule_name, s.schedule.function_arn) for s in local_stack.schedules}

    assert served == declared
    assert all(s.is_alive() for s in local_stack.schedules)
    for invoker in local_stack.schedules:
        name = invoker.schedule.rule_name
        assert invoker.schedule.interval_seconds == rate_seconds(
            rules[name].inputs["scheduleExpression"], name
        )


def test_schedules_are_served_and_event_pattern_rules_listed_as_inert(local_stack: LocalStack) -> None:
    listed = {(r.type, r.name): reason for r, reason in local_stack.not_served()}
    scheduled_rules = {s.schedule.rule_name for s in local_stack.schedules}

    for rule in local_stack.declared("aws:cloudwatch/eventRule:EventRule"):
        key = (rule.type, rule.name)
        if rule.inputs.get("scheduleExpression"):
            assert rule.inputs["name"] in scheduled_rules
            assert key not in listed
        else:
            assert listed[key] == INERT[rule.type]
    for target in local_stack.declared("aws:cloudwatch/eventTarget:EventTarget"):
        assert ((target.type, target.name) in listed) == (target.inputs["rule"] not in scheduled_rules)


def test_the_pollers_serve_the_declared_event_source_mappings(local_stack: LocalStack) -> None:
    declared = {
        (m.inputs["eventSourceArn"], m.inputs["functionName"]): m
        for m in local_stack.declared("aws:lambda/eventSourceMapping:EventSourceMapping")
    }
    served = {(p.mapping.queue_arn, p.mapping.function_arn): p.mapping for p in local_stack.pollers}

    assert served.keys() == declared.keys()
    for key, mapping in served.items():
        inputs = declared[key].inputs
        assert mapping.batch_size == inputs["batchSize"]
        assert mapping.batching_window_seconds == inputs["maximumBatchingWindowInSeconds"]
        assert mapping.report_batch_item_failures == (
            "ReportBatchItemFailures" in inputs["functionResponseTypes"]
        )


def test_the_gateway_serves_the_declared_routes(local_stack: LocalStack) -> None:
    paths = {r.id: r.outputs["path"] for r in local_stack.declared("aws:apigateway/resource:Resource")}
    (api,) = local_stack.declared("aws:apigateway/restApi:RestApi")
    paths[api.outputs["rootResourceId"]] = "/"
    declared = {
        (paths[m.inputs["resourceId"]], m.inputs["httpMethod"])
        for m in local_stack.declared("aws:apigateway/method:Method")
    }
    assert local_stack.gateway is not None
    served = {
        (route.resource_path, method) for route in local_stack.gateway.routes for method in route.functions
    }

    assert served == declared
