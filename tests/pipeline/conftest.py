"""The DOFS program run once per stack under Pulumi's mocks, shared by the pipeline tests
(the policy pack and the bootstrap's roles are both checked against it)."""

from __future__ import annotations

import pytest

from local.recorded_program import ProgramRun, record_program


@pytest.fixture(scope="session", params=["dev", "prod"])
def program_run(request: pytest.FixtureRequest) -> ProgramRun:
    return record_program(request.param)
