"""Fault injection (handlers/faults.py) is for local runs and tests: no stack can turn it on."""

from __future__ import annotations

import pytest

from components.config import KNOWN_KEYS, StackConfigError, parse_settings
from handlers.faults import DOFS_FAULTS
from local.pulumi_runner import stack_config
from local.recorded_program import ProgramRun
from tests.infra import helpers as h


def test_no_function_is_given_a_fault_plan(stack_run: ProgramRun) -> None:
    functions = stack_run.of_type(h.FUNCTION)
    assert len(functions) == len(h.FUNCTIONS)
    for fn in functions:
        variables = fn.inputs["environment"]["variables"]
        assert DOFS_FAULTS not in variables, fn.inputs["name"]
        assert not any("FAULT" in name.upper() for name in variables), fn.inputs["name"]


def test_no_setting_mentions_faults() -> None:
    assert KNOWN_KEYS
    assert [key for key in KNOWN_KEYS if "fault" in key.lower()] == []


@pytest.mark.parametrize("stack", h.STACKS)
def test_no_stack_yaml_mentions_faults(stack: str) -> None:
    assert [key for key in stack_config(stack) if "fault" in key.lower()] == []


@pytest.mark.parametrize("key", ["dofs:faults", "dofs:dofsFaults", "dofs:faultPlan"])
def test_a_faults_setting_is_refused_as_unknown(key: str) -> None:
    with pytest.raises(StackConfigError, match=rf"^{key}: unknown setting"):
        parse_settings({**stack_config("dev"), key: '{"rates": {"validator": 1}}'}, "dev")
