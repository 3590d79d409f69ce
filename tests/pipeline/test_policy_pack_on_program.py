"""The whole pack, resource and stack policies, against every resource the real program
declares under Pulumi's mocks for dev and prod: the program keeps its own guarantees."""

from __future__ import annotations

import pytest

from local.recorded_program import ProgramRun, record_program
from policies import validators as v
from tests.pipeline.policy_harness import program_resources, run_pack


@pytest.fixture(scope="module", params=["dev", "prod"])
def run(request: pytest.FixtureRequest) -> ProgramRun:
    return record_program(request.param)


def test_the_program_breaks_no_policy(run: ProgramRun) -> None:
    violations = run_pack(run)

    assert violations == [], "\n".join(f"{policy}: {message} ({urn})" for policy, message, urn in violations)


def test_the_pack_sees_what_it_checks(run: ProgramRun) -> None:
    """Zero violations means something only if the policies found their subjects."""
    resources = program_resources(run)
    types = {r.resource_type for r in resources}

    assert {v.QUEUE, v.FUNCTION, v.TABLE, v.API_STAGE, v.METHOD_SETTINGS, v.METRIC_ALARM} <= types
    paths = {(m.props["httpMethod"], v.api_path(m)) for m in resources if m.resource_type == v.API_METHOD}
    assert {("GET", "/health"), ("POST", "/order"), ("GET", "/orders/{order_id}")} <= paths
