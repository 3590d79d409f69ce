"""Dev against prod: what each stack's YAML turns on, and the contract between the two."""

from __future__ import annotations

import json

from local.recorded_program import ProgramRun
from tests.infra import helpers as h


def test_tables_follow_protect_data(stack_run: ProgramRun, config: h.StackConfig) -> None:
    protect = config.flag("dofs:protectData")
    for table in stack_run.of_type(h.TABLE):
        assert table.inputs["pointInTimeRecovery"] == {"enabled": protect}, table.name
        assert table.inputs["deletionProtectionEnabled"] is protect, table.name


def test_tables_are_encrypted_on_demand_keyed_by_order_id(stack_run: ProgramRun) -> None:
    for table in stack_run.of_type(h.TABLE):
        assert table.inputs["serverSideEncryption"] == {"enabled": True}, table.name
        assert table.inputs["billingMode"] == "PAY_PER_REQUEST", table.name
        assert table.inputs["hashKey"] == "order_id", table.name
        assert {"name": "order_id", "type": "S"} in table.inputs["attributes"], table.name


def test_every_log_group_keeps_logs_as_configured(stack_run: ProgramRun, config: h.StackConfig) -> None:
    groups = stack_run.of_type(h.LOG_GROUP)
    assert len(groups) == len(h.FUNCTIONS) + 1
    for group in groups:
        assert group.inputs["retentionInDays"] == config.integer("dofs:logRetentionDays"), group.name


def test_prod_protects_data_and_dev_does_not(dev_run: ProgramRun, prod_run: ProgramRun) -> None:
    for table in prod_run.of_type(h.TABLE):
        assert table.inputs["pointInTimeRecovery"] == {"enabled": True}
        assert table.inputs["deletionProtectionEnabled"] is True
    for table in dev_run.of_type(h.TABLE):
        assert table.inputs["pointInTimeRecovery"] == {"enabled": False}
        assert table.inputs["deletionProtectionEnabled"] is False


def test_retention_is_14_days_in_dev_and_90_in_prod(dev_run: ProgramRun, prod_run: ProgramRun) -> None:
    assert {g.inputs["retentionInDays"] for g in dev_run.of_type(h.LOG_GROUP)} == {14}
    assert {g.inputs["retentionInDays"] for g in prod_run.of_type(h.LOG_GROUP)} == {90}


def test_every_function_of_both_stacks_gets_the_256_mb_make_cost_prices(
    dev_run: ProgramRun, prod_run: ProgramRun
) -> None:
    for run in (dev_run, prod_run):
        assert {f.inputs["memorySize"] for f in run.of_type(h.FUNCTION)} == {256}


def test_prod_traces_one_request_in_a_hundred_after_the_first_each_second(prod_run: ProgramRun) -> None:
    rules = prod_run.of_type("aws:xray/samplingRule:SamplingRule")
    assert rules and {(r.inputs["reservoirSize"], r.inputs["fixedRate"]) for r in rules} == {(1, 0.01)}


def test_prod_redrives_after_five_receives_and_dev_after_three(
    dev_run: ProgramRun, prod_run: ProgramRun
) -> None:
    def max_receive_count(run: ProgramRun) -> int:
        count: int = json.loads(h.order_queue(run).inputs["redrivePolicy"])["maxReceiveCount"]
        return count

    # AWS advises at least 5 for an SQS event source; dev fails over to the DLQ sooner.
    assert max_receive_count(dev_run) == 3
    assert max_receive_count(prod_run) == 5


def test_prod_logs_only_errors_of_the_workflow(dev_run: ProgramRun, prod_run: ProgramRun) -> None:
    assert h.state_machine(dev_run).inputs["loggingConfiguration"]["level"] == "ALL"
    assert h.state_machine(prod_run).inputs["loggingConfiguration"]["level"] == "ERROR"


def test_prod_runs_an_express_workflow_and_dev_a_standard_one(
    dev_run: ProgramRun, prod_run: ProgramRun
) -> None:
    assert h.state_machine(dev_run).inputs["type"] == "STANDARD"
    assert h.state_machine(prod_run).inputs["type"] == "EXPRESS"
    # An EXPRESS execution lasts at most 5 minutes.
    assert prod_run.state_machine_definition()["TimeoutSeconds"] <= 300


def test_prod_takes_1500_orders_a_second_with_bursts_of_3000(prod_run: ProgramRun) -> None:
    """Sized for 1,000 orders/s sustained, under the account's 10,000 requests/s per region
    (API Gateway quotas page)."""
    throttling = h.only(prod_run, h.API_METHOD_SETTINGS).inputs["settings"]
    assert (throttling["throttlingRateLimit"], throttling["throttlingBurstLimit"]) == (1500, 3000)
