"""The DOFS program run once per stack under Pulumi's mocks, shared by every infra test.

A run records plain data (``ProgramRun``), so tests that run the program again with
overrides (function scope) cannot disturb these session-wide snapshots.
"""

from __future__ import annotations

import pytest

from local.recorded_program import ProgramRun, record_program
from tests.infra.helpers import STACKS, StackConfig


@pytest.fixture(scope="session")
def dev_run() -> ProgramRun:
    return record_program("dev")


@pytest.fixture(scope="session")
def prod_run() -> ProgramRun:
    return record_program("prod")


@pytest.fixture(scope="session", params=STACKS)
def stack_run(request: pytest.FixtureRequest) -> ProgramRun:
    """The run of each stack in turn: tests using it hold for dev and for prod."""
    run: ProgramRun = request.getfixturevalue(f"{request.param}_run")
    return run


@pytest.fixture(scope="session")
def config(stack_run: ProgramRun) -> StackConfig:
    return StackConfig(stack_run.stack)
