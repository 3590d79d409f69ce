"""Every Lambda: runtime, architecture, tracing, its own role and log group, sizing, code, layer."""

from __future__ import annotations

import base64
import hashlib
import importlib
import json
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from benchmarks import bench_imports
from components.packaging import LAYER_PYTHON_VERSION
from local.pulumi_runner import PROJECT_ROOT
from local.recorded_program import ProgramRun, RecordedResource, record_program
from tests.infra import helpers as h

SUPPORTED_RUNTIMES = {"python3.12", "python3.13"}


@pytest.fixture(params=h.FUNCTIONS)
def component(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def fn(stack_run: ProgramRun, component: str) -> RecordedResource:
    return h.function(stack_run, component)


def _archive_path(resource: RecordedResource) -> Path:
    path = Path(resource.inputs["code"].path)
    return path if path.is_absolute() else PROJECT_ROOT / path


def _lambda_code_sha256(path: Path) -> str:
    return base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode("ascii")


def test_runs_on_arm64_with_a_supported_python(fn: RecordedResource) -> None:
    assert fn.inputs["architectures"] == ["arm64"]
    assert fn.inputs["runtime"] in SUPPORTED_RUNTIMES


def test_runtime_matches_the_python_the_layer_is_built_for(
    stack_run: ProgramRun, fn: RecordedResource
) -> None:
    """The layer is installed for one Python version and platform: it must fit the function's runtime."""
    layer = h.only(stack_run, h.LAYER)
    assert fn.inputs["runtime"] == f"python{LAYER_PYTHON_VERSION}"
    assert fn.inputs["runtime"] in layer.inputs["compatibleRuntimes"]
    assert set(fn.inputs["architectures"]) <= set(layer.inputs["compatibleArchitectures"])


def test_active_tracing(fn: RecordedResource) -> None:
    assert fn.inputs["tracingConfig"] == {"mode": "Active"}


def test_has_a_role_of_its_own(stack_run: ProgramRun, component: str) -> None:
    roles = Counter(f.inputs["role"] for f in stack_run.of_type(h.FUNCTION))
    role_arn = h.function(stack_run, component).inputs["role"]
    assert roles[role_arn] == 1
    assert role_arn != h.state_machine(stack_run).inputs["roleArn"]
    h.role_with_arn(stack_run, role_arn)  # the role is one the program creates


def test_has_its_own_log_group_with_the_stack_retention(
    stack_run: ProgramRun, fn: RecordedResource, config: h.StackConfig
) -> None:
    group_name = f"/aws/lambda/{fn.inputs['name']}"
    group = h.by_physical_name(stack_run, h.LOG_GROUP, group_name)
    assert group.inputs["retentionInDays"] == config.integer("dofs:logRetentionDays")
    assert fn.inputs["loggingConfig"]["logGroup"] == group_name


def _expected_timeout(component: str, config: h.StackConfig) -> int:
    if component == h.RECONCILER:
        return h.RECONCILER_TIMEOUT_SECONDS
    if component == h.FULFILL_ORDER:
        return config.integer("dofs:fulfillTimeoutSeconds")
    return config.integer("dofs:lambdaTimeoutSeconds")


def test_timeout_and_memory_come_from_the_stack_config(
    fn: RecordedResource, component: str, config: h.StackConfig
) -> None:
    assert fn.inputs["timeout"] == _expected_timeout(component, config)
    assert fn.inputs["memorySize"] == config.integer("dofs:lambdaMemoryMb")


def test_timeouts_and_memory_follow_overrides() -> None:
    overrides = {
        "dofs:fulfillTimeoutSeconds": "45",
        "dofs:lambdaTimeoutSeconds": "12",
        "dofs:lambdaMemoryMb": "1024",
    }
    run = record_program("dev", overrides)
    config = h.StackConfig("dev", overrides)
    for component in h.FUNCTIONS:
        fn = h.function(run, component)
        assert fn.inputs["timeout"] == _expected_timeout(component, config), component
        assert fn.inputs["memorySize"] == 1024, component
    assert h.function(run, h.FULFILL_ORDER).inputs["timeout"] == 45
    assert h.function(run, h.VALIDATOR).inputs["timeout"] == 12


def test_the_reconciler_finishes_within_its_shortest_schedule_period(stack_run: ProgramRun) -> None:
    """EventBridge's shortest rate is one minute: a 50 s run rarely overlaps the next one."""
    assert h.function(stack_run, h.RECONCILER).inputs["timeout"] == h.RECONCILER_TIMEOUT_SECONDS < 60


def test_the_dependency_layer_is_attached(stack_run: ProgramRun, fn: RecordedResource) -> None:
    assert fn.inputs["layers"] == [h.only(stack_run, h.LAYER).outputs["arn"]]


def test_source_code_hash_is_the_sha256_of_the_deployed_archive(fn: RecordedResource) -> None:
    archive = _archive_path(fn)
    assert archive.is_file()
    assert fn.inputs["sourceCodeHash"] == _lambda_code_sha256(archive)


def test_layer_source_code_hash_is_the_sha256_of_its_archive(stack_run: ProgramRun) -> None:
    layer = h.only(stack_run, h.LAYER)
    assert layer.inputs["sourceCodeHash"] == _lambda_code_sha256(_archive_path(layer))


def test_handler_is_in_the_archive_and_callable(fn: RecordedResource) -> None:
    module_name, _, attribute = fn.inputs["handler"].rpartition(".")
    with zipfile.ZipFile(_archive_path(fn)) as archive:
        assert f"{module_name.replace('.', '/')}.py" in archive.namelist()
    assert callable(getattr(importlib.import_module(module_name), attribute))


def test_the_import_benchmark_times_every_entry_module(stack_run: ProgramRun) -> None:
    entry_modules = {f.inputs["handler"].rpartition(".")[0] for f in stack_run.of_type(h.FUNCTION)}
    assert entry_modules == set(bench_imports.HANDLER_MODULES)


def test_every_function_runs_its_own_handler(stack_run: ProgramRun) -> None:
    handlers = [f.inputs["handler"] for f in stack_run.of_type(h.FUNCTION)]
    assert len(set(handlers)) == len(h.FUNCTIONS)


def test_environment_names_the_stack(fn: RecordedResource, stack_run: ProgramRun) -> None:
    assert fn.inputs["environment"]["variables"]["ENVIRONMENT"] == stack_run.stack


def test_role_trusts_only_lambda(stack_run: ProgramRun, component: str) -> None:
    role = h.function_role(stack_run, component)
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert h.statements(trust) == [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]
