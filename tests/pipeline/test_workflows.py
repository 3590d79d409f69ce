"""The workflows agree with the repository, and hold the pipeline's safety rules:
read-only defaults, pinned actions, no persisted credentials, one `up` per stack."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from local.pulumi_runner import PROJECT_ROOT
from tests.pipeline.workflows import WORKFLOWS, Workflow, makefile_targets, workflows

ZIZMOR = Path(sys.executable).with_name("zizmor")
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(?:/[\w./-]+)?@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"uses:\s*\S+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")
EXPECTED = {"tests.yml", "preview.yml", "deploy.yml", "drift.yml"}


@pytest.fixture(scope="module")
def all_workflows() -> list[Workflow]:
    found = workflows()
    assert {w.name for w in found} == EXPECTED
    return found


def test_zizmor_offline_finds_nothing() -> None:
    result = subprocess.run(
        [str(ZIZMOR), "--offline", "--no-progress", str(WORKFLOWS)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings" in result.stdout


def test_every_stack_a_workflow_names_has_its_pulumi_yaml(
    all_workflows: list[Workflow],
) -> None:
    named = {stack: w.name for w in all_workflows for stack in w.stacks()}

    assert {"dev", "prod"} <= set(named)
    missing = {s: where for s, where in named.items() if not (PROJECT_ROOT / f"Pulumi.{s}.yaml").is_file()}
    assert not missing, f"stacks without Pulumi.<stack>.yaml: {missing}"


def test_every_make_target_a_workflow_runs_is_in_the_makefile(
    all_workflows: list[Workflow],
) -> None:
    called = {target: w.name for w in all_workflows for target in w.make_targets()}

    assert {"test", "setup", "smoke"} <= set(called)
    missing = {target: where for target, where in called.items() if target not in makefile_targets()}
    assert not missing, f"make targets no Makefile rule defines: {missing}"


def test_a_renamed_target_or_stack_would_be_caught(tmp_path: Path) -> None:
    makefile = tmp_path / "Makefile"
    makefile.write_text("unit infra: setup\n\tpytest\nsmoke2: setup\nURL ?= x\n")
    job = {"env": {"STACK": "staging"}, "steps": [{"run": "make smoke"}]}
    document = {"on": {"push": None}, "jobs": {"j": job}}
    workflow = Workflow(tmp_path / "w.yml", document)

    assert workflow.make_targets() - makefile_targets(makefile) == {"smoke"}
    assert workflow.stacks() == {"staging"}


def test_defaults_are_read_only_and_each_job_names_its_permissions(
    all_workflows: list[Workflow],
) -> None:
    for workflow in all_workflows:
        assert workflow.document["permissions"] in ({}, {"contents": "read"}), workflow.name
        for name, job in workflow.jobs.items():
            granted = job["permissions"]
            assert set(granted.values()) <= {"read", "write"}, (workflow.name, name)
            writes = {scope for scope, level in granted.items() if level == "write"}
            assert writes <= {"id-token", "pull-requests"}, (workflow.name, name, writes)


def test_only_cloud_jobs_get_an_oidc_token_and_only_the_preview_comments(
    all_workflows: list[Workflow],
) -> None:
    for workflow in all_workflows:
        for job in workflow.jobs.values():
            uses = [step.get("uses", "") for step in job.get("steps", [])]
            assumes_role = any(u.startswith("aws-actions/configure-aws-credentials@") for u in uses)
            assert (job["permissions"].get("id-token") == "write") == assumes_role, workflow.name
            comments = any(step.get("with", {}).get("comment-on-pr") for step in job.get("steps", []))
            assert (job["permissions"].get("pull-requests") == "write") == comments, workflow.name


def test_every_action_is_pinned_to_a_commit_with_its_version_in_a_comment(
    all_workflows: list[Workflow],
) -> None:
    for workflow in all_workflows:
        for step in workflow.steps():
            if "uses" in step:
                assert PINNED.match(step["uses"]), (workflow.name, step["uses"])
        uses_lines = [line.strip() for line in workflow.path.read_text().splitlines() if "uses:" in line]
        assert uses_lines and all(VERSION_COMMENT.search(line) for line in uses_lines), workflow.name


def test_checkout_never_persists_the_token(
    all_workflows: list[Workflow],
) -> None:
    steps = [step for workflow in all_workflows for step in workflow.steps()]
    checkouts = [s for s in steps if s.get("uses", "").startswith("actions/checkout@")]

    assert checkouts
    assert all(step["with"]["persist-credentials"] is False for step in checkouts)


def test_no_workflow_runs_untrusted_code_with_secrets(
    all_workflows: list[Workflow],
) -> None:
    assert all("pull_request_target" not in w.triggers for w in all_workflows)
    assert all("aws-access-key-id" not in w.path.read_text() for w in all_workflows)


def test_deploy_runs_dev_then_prod_behind_its_environment_and_never_cancels_an_up() -> None:
    deploy = next(w for w in workflows() if w.name == "deploy.yml")

    assert set(deploy.triggers) == {"push"}
    dev, prod = deploy.jobs["dev"], deploy.jobs["prod"]
    assert prod["needs"] == "dev" and prod["environment"] == "prod" and "environment" not in dev
    assert dev["concurrency"] == {"group": "deploy-dev", "cancel-in-progress": False}
    assert prod["concurrency"] == {"group": "deploy-prod", "cancel-in-progress": False}
    for job in (dev, prod):
        (up,) = [s for s in job["steps"] if s.get("with", {}).get("command") == "up"]
        assert up["with"]["policyPacks"] == "policies"
        smoke = job["steps"][-1]["run"]
        assert "make smoke URL=" in smoke and "::add-mask::" in smoke


def test_preview_attaches_the_policy_pack_and_skips_forks_without_failing() -> None:
    preview = next(w for w in workflows() if w.name == "preview.yml")
    job = preview.jobs["preview"]
    steps = job["steps"]

    assert job["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    assert "head.repo.full_name" in steps[0]["env"]["HEAD_REPO"]
    assert all(step["if"] == "steps.access.outputs.available == 'true'" for step in steps[1:])
    (pulumi,) = [s for s in steps if s.get("uses", "").startswith("pulumi/actions@")]
    assert pulumi["with"]["command"] == "preview" and pulumi["with"]["policyPacks"] == "policies"
    assert pulumi["with"]["comment-on-pr"] is True and pulumi["with"]["edit-pr-comment"] is True


def test_drift_refreshes_expects_no_changes_and_reports_per_stack() -> None:
    drift = next(w for w in workflows() if w.name == "drift.yml")

    assert {"schedule", "workflow_dispatch"} == set(drift.triggers)
    script = next(s for s in drift.run_scripts() if "pulumi preview" in s)
    assert all(flag in script for flag in ("--refresh", "--expect-no-changes", "--diff"))
    assert "ops.drift_report" in script
