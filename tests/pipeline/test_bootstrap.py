"""The bootstrap program under Pulumi's mocks: who may assume each CI role, what each may
touch, and that no grant lets a deploy escalate past the permissions boundary."""

from __future__ import annotations

import fnmatch
import json
import runpy
from typing import Any
from unittest import mock

import pulumi
import pytest
from moto.core.models import DEFAULT_ACCOUNT_ID

from bootstrap.github_oidc import (
    BOUNDARY_NAME,
    PREVIEW_ROLE_NAME,
    BootstrapConfigError,
    GithubDeployAccessArgs,
    deploy_role_name,
)
from bootstrap.permissions import NO_RESOURCE_ACTIONS, UNSCOPED, Scope
from local.pulumi_runner import PROJECT_ROOT, _program_threads
from local.recorded_program import ProgramRun, RecordingMocks
from policies.iam_rules import as_list, document_problems

REGION = "ap-south-1"
BOOTSTRAP = PROJECT_ROOT / "bootstrap" / "__main__.py"
REPOSITORY = "octo-org/dofs"
BOUNDARY_ARN = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:policy/{BOUNDARY_NAME}"
OIDC = "token.actions.githubusercontent.com"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
READ_VERBS = ("Describe", "Get", "List")


class BootstrapMocks(RecordingMocks):
    """The account, region and partition the AWS provider would report; IAM's ARNs."""

    def computed(self, typ: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        if typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            host = inputs["url"].removeprefix("https://")
            return {"arn": f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:oidc-provider/{host}"}
        if typ == "aws:iam/policy:Policy":
            return {"arn": f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:policy/{inputs['name']}"}
        return super().computed(typ, name, inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        results = {
            "aws:index/getCallerIdentity:getCallerIdentity": {
                "accountId": DEFAULT_ACCOUNT_ID,
                "arn": f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:user/admin",
                "userId": "AIDAEXAMPLE",
                "id": DEFAULT_ACCOUNT_ID,
            },
            "aws:index/getRegion:getRegion": {"region": REGION, "name": REGION, "id": REGION},
            "aws:index/getPartition:getPartition": {
                "partition": "aws",
                "dnsSuffix": "amazonaws.com",
                "id": "aws",
            },
        }
        return results.get(args.token, {}), []


def record_bootstrap(config: dict[str, str]) -> ProgramRun:
    """Run ``bootstrap/__main__.py`` under the mocks, as ``pulumi up`` would with ``config``."""
    mocks = BootstrapMocks(REGION)
    pulumi.runtime.set_mocks(mocks, project="dofs-bootstrap", stack="ci", preview=False)
    pulumi.runtime.set_all_config({f"dofs-bootstrap:{key}": value for key, value in config.items()})
    exports: dict[str, Any] = {}
    outputs: dict[str, Any] = {}

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def run() -> pulumi.Output[Any]:
        with mock.patch.object(pulumi, "export", exports.__setitem__):
            runpy.run_path(str(BOOTSTRAP), run_name="__main__")
        return pulumi.Output.all(**exports).apply(outputs.update)

    with _program_threads():
        run()
    return ProgramRun("ci", mocks.resources, outputs)


@pytest.fixture(scope="module")
def bootstrap() -> ProgramRun:
    return record_bootstrap({"githubRepository": REPOSITORY})


def role(run: ProgramRun, name: str) -> dict[str, Any]:
    (found,) = [r for r in run.of_type(ROLE) if r.inputs["name"] == name]
    return {
        "trust": json.loads(found.inputs["assumeRolePolicy"]),
        "policy": json.loads(
            next(p.inputs["policy"] for p in run.of_type(ROLE_POLICY) if p.inputs["role"] == name)
        ),
    }


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return as_list(document["Statement"])


def allows(document: dict[str, Any], action: str, resource: str) -> bool:
    return any(
        action in as_list(s["Action"])
        and any(fnmatch.fnmatchcase(resource, p) for p in as_list(s["Resource"]))
        for s in statements(document)
    )


# --- trust ---------------------------------------------------------------------------


def test_github_is_the_identity_provider_for_sts(bootstrap: ProgramRun) -> None:
    (provider,) = bootstrap.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")

    assert provider.inputs["url"] == f"https://{OIDC}"
    assert provider.inputs["clientIdLists"] == ["sts.amazonaws.com"]
    assert bootstrap.outputs["oidc_provider_arn"] == provider.outputs["arn"]


@pytest.mark.parametrize(
    ("name", "subjects"),
    [
        (deploy_role_name("dev"), [f"repo:{REPOSITORY}:ref:refs/heads/main"]),
        (deploy_role_name("prod"), [f"repo:{REPOSITORY}:environment:prod"]),
        (PREVIEW_ROLE_NAME, [f"repo:{REPOSITORY}:pull_request", f"repo:{REPOSITORY}:ref:refs/heads/main"]),
    ],
)
def test_each_role_trusts_only_this_repository_for_its_subjects(
    bootstrap: ProgramRun, name: str, subjects: list[str]
) -> None:
    (statement,) = statements(role(bootstrap, name)["trust"])

    assert statement["Principal"] == {"Federated": bootstrap.outputs["oidc_provider_arn"]}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {
        "StringEquals": {f"{OIDC}:aud": "sts.amazonaws.com", f"{OIDC}:sub": subjects}
    }


def test_the_role_arns_to_copy_are_exported(bootstrap: ProgramRun) -> None:
    account_roles = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/"

    assert bootstrap.outputs["deploy_role_arns"] == {
        "dev": account_roles + deploy_role_name("dev"),
        "prod": account_roles + deploy_role_name("prod"),
    }
    assert bootstrap.outputs["preview_role_arn"] == account_roles + PREVIEW_ROLE_NAME
    assert bootstrap.outputs["permissions_boundary_arn"] == BOUNDARY_ARN


# --- permissions ---------------------------------------------------------------------


@pytest.mark.parametrize("name", [deploy_role_name("dev"), deploy_role_name("prod"), PREVIEW_ROLE_NAME])
def test_no_wildcard_action_and_star_only_where_aws_takes_no_resource(
    bootstrap: ProgramRun, name: str
) -> None:
    assert list(document_problems(role(bootstrap, name)["policy"], NO_RESOURCE_ACTIONS)) == []


def test_the_boundary_names_its_actions_too(bootstrap: ProgramRun) -> None:
    (boundary,) = bootstrap.of_type("aws:iam/policy:Policy")

    assert list(document_problems(json.loads(boundary.inputs["policy"]), NO_RESOURCE_ACTIONS)) == []


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_a_deploy_role_reaches_only_its_stacks_resources_in_this_account_and_region(
    bootstrap: ProgramRun, stack: str
) -> None:
    for statement in statements(role(bootstrap, deploy_role_name(stack))["policy"]):
        for arn in as_list(statement["Resource"]):
            if arn == "*":
                continue
            service, region, account = arn.split(":")[2:5]
            assert region in {REGION, ""} and account in {DEFAULT_ACCOUNT_ID, ""}, arn
            assert region or service in {"iam", "cloudwatch", "apigateway"}, arn
            assert account or service == "apigateway", arn
            if service == "apigateway" or "event-source-mapping" in arn:
                assert set(UNSCOPED) == {"apigateway", "event-source-mapping"}
                continue
            assert f"dofs-*-{stack}" in arn or arn.endswith(f":dashboard/dofs-{stack}"), arn


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_iam_grants_give_no_path_past_the_boundary(bootstrap: ProgramRun, stack: str) -> None:
    policy = role(bootstrap, deploy_role_name(stack))["policy"]
    iam = [s for s in statements(policy) if any(a.startswith("iam:") for a in as_list(s["Action"]))]
    roles = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/dofs-*-{stack}"

    assert all(as_list(s["Resource"]) == [roles] for s in iam)
    actions = {a for s in iam for a in as_list(s["Action"])}
    assert not actions & {
        "iam:DeleteRolePermissionsBoundary",
        "iam:AttachRolePolicy",
        "iam:CreatePolicyVersion",
    }
    (create,) = [s for s in iam if "iam:CreateRole" in s["Action"]]
    assert create["Condition"] == {"StringEquals": {"iam:PermissionsBoundary": BOUNDARY_ARN}}
    assert "iam:PutRolePermissionsBoundary" in create["Action"]
    (passing,) = [s for s in iam if "iam:PassRole" in s["Action"]]
    assert passing["Action"] == ["iam:PassRole"]
    passed_to = passing["Condition"]["StringEquals"]["iam:PassedToService"]
    assert set(passed_to) == {"lambda.amazonaws.com", "states.amazonaws.com"}
    for own in (deploy_role_name(stack), PREVIEW_ROLE_NAME, BOUNDARY_NAME):
        assert not fnmatch.fnmatchcase(f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/{own}", roles), own


def test_the_preview_role_only_reads(bootstrap: ProgramRun) -> None:
    actions = {
        a for s in statements(role(bootstrap, PREVIEW_ROLE_NAME)["policy"]) for a in as_list(s["Action"])
    }

    writes = {a for a in actions if not a.split(":")[1].startswith(READ_VERBS) and a != "apigateway:GET"}
    assert writes == set()


def test_a_state_bucket_is_readable_by_previews_and_writable_by_deploys_only() -> None:
    run = record_bootstrap({"githubRepository": REPOSITORY, "stateBucket": "acme-pulumi-state"})
    preview, deploy = role(run, PREVIEW_ROLE_NAME)["policy"], role(run, deploy_role_name("prod"))["policy"]
    checkpoint = "arn:aws:s3:::acme-pulumi-state/.pulumi/stacks/dofs/prod.json"
    lock = "arn:aws:s3:::acme-pulumi-state/.pulumi/locks/dofs/prod/1.json"

    assert allows(preview, "s3:GetObject", checkpoint) and allows(preview, "s3:PutObject", lock)
    assert not allows(preview, "s3:PutObject", checkpoint)
    assert allows(deploy, "s3:PutObject", checkpoint)


# --- the program it deploys ----------------------------------------------------------

# What creating each named resource of the program takes: the action, and the ARN it names.
ACCOUNT_REGION = f"{REGION}:{DEFAULT_ACCOUNT_ID}"
CREATES = {
    "aws:dynamodb/table:Table": (
        "name",
        "dynamodb:CreateTable",
        f"arn:aws:dynamodb:{ACCOUNT_REGION}:table/{{}}",
    ),
    "aws:sqs/queue:Queue": ("name", "sqs:CreateQueue", f"arn:aws:sqs:{ACCOUNT_REGION}:{{}}"),
    "aws:lambda/function:Function": (
        "name",
        "lambda:CreateFunction",
        f"arn:aws:lambda:{ACCOUNT_REGION}:function:{{}}",
    ),
    "aws:iam/role:Role": ("name", "iam:PassRole", f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/{{}}"),
    "aws:sfn/stateMachine:StateMachine": (
        "name",
        "states:CreateStateMachine",
        f"arn:aws:states:{ACCOUNT_REGION}:stateMachine:{{}}",
    ),
    "aws:cloudwatch/eventRule:EventRule": (
        "name",
        "events:PutRule",
        f"arn:aws:events:{ACCOUNT_REGION}:rule/{{}}",
    ),
    "aws:lambda/layerVersion:LayerVersion": (
        "layerName",
        "lambda:PublishLayerVersion",
        f"arn:aws:lambda:{ACCOUNT_REGION}:layer:{{}}",
    ),
    "aws:cloudwatch/metricAlarm:MetricAlarm": (
        "name",
        "cloudwatch:PutMetricAlarm",
        f"arn:aws:cloudwatch:{ACCOUNT_REGION}:alarm:{{}}",
    ),
    "aws:xray/samplingRule:SamplingRule": (
        "ruleName",
        "xray:CreateSamplingRule",
        f"arn:aws:xray:{ACCOUNT_REGION}:sampling-rule/{{}}",
    ),
    "aws:cloudwatch/logGroup:LogGroup": (
        "name",
        "logs:CreateLogGroup",
        f"arn:aws:logs:{ACCOUNT_REGION}:log-group:{{}}",
    ),
    "aws:cloudwatch/dashboard:Dashboard": (
        "dashboardName",
        "cloudwatch:PutDashboard",
        f"arn:aws:cloudwatch::{DEFAULT_ACCOUNT_ID}:dashboard/{{}}",
    ),
    "aws:sns/topic:Topic": ("name", "sns:CreateTopic", f"arn:aws:sns:{ACCOUNT_REGION}:{{}}"),
}


def test_the_deploy_role_may_create_every_named_resource_of_its_stack(
    bootstrap: ProgramRun, program_run: ProgramRun
) -> None:
    own = role(bootstrap, deploy_role_name(program_run.stack))["policy"]
    other_stack = "prod" if program_run.stack == "dev" else "dev"
    other = role(bootstrap, deploy_role_name(other_stack))["policy"]
    checked = 0

    for typ, (key, action, arn) in CREATES.items():
        for resource in program_run.of_type(typ):
            target = arn.format(resource.inputs[key])
            assert allows(own, action, target), (action, target)
            assert not allows(other, action, target), f"{other_stack}'s role reaches {target}"
            checked += 1
    assert checked >= 20


def test_the_boundary_allows_every_call_the_programs_roles_make(
    bootstrap: ProgramRun, program_run: ProgramRun
) -> None:
    (boundary_resource,) = bootstrap.of_type("aws:iam/policy:Policy")
    boundary = json.loads(boundary_resource.inputs["policy"])
    run = program_run

    for role_policy in run.of_type(ROLE_POLICY):
        for statement in statements(json.loads(role_policy.inputs["policy"])):
            for action in as_list(statement["Action"]):
                for resource in as_list(statement["Resource"]):
                    assert allows(boundary, action, resource), (role_policy.name, action, resource)


# --- config --------------------------------------------------------------------------

SCOPE = Scope("aws", DEFAULT_ACCOUNT_ID, REGION)


@pytest.mark.parametrize(
    ("repository", "stacks", "environment_stacks", "key"),
    [
        ("dofs", ("dev",), frozenset(), "githubRepository"),
        ("octo-org/dofs:ref", ("dev",), frozenset(), "githubRepository"),
        (REPOSITORY, ("Dev*",), frozenset(), "stacks"),
        (REPOSITORY, ("dev",), frozenset({"prod"}), "environmentStacks"),
    ],
)
def test_bad_config_is_refused_naming_its_key(
    repository: str, stacks: tuple[str, ...], environment_stacks: frozenset[str], key: str
) -> None:
    with pytest.raises(BootstrapConfigError, match=key):
        GithubDeployAccessArgs(repository, stacks, environment_stacks, SCOPE)


# IAM counts an inline policy without whitespace, and a role's inline policies may hold
# 10,240 characters in all (IAM User Guide, "IAM and AWS STS quotas": role policy size).
ROLE_INLINE_POLICY_LIMIT = 10_240


def test_each_roles_policy_fits_iams_inline_limit_with_the_state_bucket() -> None:
    run = record_bootstrap({"githubRepository": REPOSITORY, "stateBucket": "acme-pulumi-state"})

    for policy in run.of_type(ROLE_POLICY):
        compact = json.dumps(json.loads(policy.inputs["policy"]), separators=(",", ":"))
        assert len(compact) < ROLE_INLINE_POLICY_LIMIT, (policy.name, len(compact))
