"""The whole pack, resource and stack policies, against every resource the real program
declares under Pulumi's mocks for dev and prod: the program keeps its own guarantees."""

from __future__ import annotations

from local.recorded_program import ProgramRun
from policies import validators as v
from tests.pipeline.policy_harness import program_resources, run_pack


def test_the_program_breaks_no_policy(program_run: ProgramRun) -> None:
    violations = run_pack(program_run)

    assert violations == [], "\n".join(f"{policy}: {message} ({urn})" for policy, message, urn in violations)


def test_the_pack_sees_what_it_checks(program_run: ProgramRun) -> None:
    """Zero violations means something only if the policies found their subjects."""
    resources = program_resources(program_run)
    types = {r.resource_type for r in resources}

    assert {v.QUEUE, v.FUNCTION, v.TABLE, v.API_STAGE, v.METHOD_SETTINGS, v.METRIC_ALARM} <= types
    paths = {(m.props["httpMethod"], v.api_path(m)) for m in resources if m.resource_type == v.API_METHOD}
    assert {("GET", "/health"), ("POST", "/order"), ("GET", "/orders/{order_id}")} <= paths
