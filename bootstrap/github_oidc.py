"""GitHub's OIDC identity provider and the roles DOFS's workflows assume through it.

- ``github-dofs-deploy-<stack>``: ``pulumi up`` of one stack, trusted for pushes to main,
  or for the GitHub environment of the same name (``prod``: its required reviewers);
- ``github-dofs-preview``: read-only, for pull requests and the drift job on main;
- ``github-dofs-role-boundary``: the permissions boundary every role a deploy creates carries.

The CI roles and the boundary are named outside ``dofs-*``, the only roles a deploy role
may change: it cannot rewrite its own policy or lift the boundary.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from bootstrap.permissions import Grant, Scope, boundary_grants, document, state_grants
from bootstrap.stack_grants import read_grants, write_grants

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
AUDIENCE = "sts.amazonaws.com"
BOUNDARY_NAME = "github-dofs-role-boundary"
PREVIEW_ROLE_NAME = "github-dofs-preview"
MAIN_BRANCH = "refs/heads/main"
REPOSITORY = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}")
STACK = re.compile(r"[a-z][a-z0-9-]{0,19}")


class BootstrapConfigError(ValueError):
    """A config value of the bootstrap stack that cannot be used, naming its key."""


def deploy_role_name(stack: str) -> str:
    return f"github-dofs-deploy-{stack}"


@dataclass(frozen=True)
class GithubDeployAccessArgs:
    repository: str  # owner/name
    stacks: tuple[str, ...]
    # Stacks deployed from the GitHub environment of the same name (required reviewers);
    # the others deploy from pushes to main.
    environment_stacks: frozenset[str]
    scope: Scope
    state_bucket: str | None = None

    def __post_init__(self) -> None:
        _validate_repository(self.repository)
        _validate_stacks(self.stacks, self.environment_stacks)

    def deploy_subject(self, stack: str) -> str:
        if stack in self.environment_stacks:
            return f"repo:{self.repository}:environment:{stack}"
        return f"repo:{self.repository}:ref:{MAIN_BRANCH}"

    def preview_subjects(self) -> list[str]:
        return [f"repo:{self.repository}:pull_request", f"repo:{self.repository}:ref:{MAIN_BRANCH}"]


def _validate_repository(repository: str) -> None:
    if not REPOSITORY.fullmatch(repository):
        raise BootstrapConfigError(f"githubRepository must be owner/name, got {repository!r}")


def _validate_stacks(stacks: Sequence[str], environment_stacks: frozenset[str]) -> None:
    bad = [stack for stack in stacks if not STACK.fullmatch(stack)]
    if not stacks or bad:
        raise BootstrapConfigError(f"stacks must be stack names (a-z, 0-9, -), got {list(stacks)!r}")
    unknown = sorted(environment_stacks - set(stacks))
    if unknown:
        raise BootstrapConfigError(f"environmentStacks names stacks not in stacks: {unknown}")


def trust_policy(provider_arn: pulumi.Input[str], subjects: list[str]) -> dict[str, Any]:
    """Only GitHub's tokens for this repository and these subjects, minted for AWS STS."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{GITHUB_OIDC_HOST}:aud": AUDIENCE,
                        f"{GITHUB_OIDC_HOST}:sub": subjects,
                    }
                },
            }
        ],
    }


class GithubDeployAccess(pulumi.ComponentResource):
    provider: aws.iam.OpenIdConnectProvider
    boundary: aws.iam.Policy
    deploy_roles: dict[str, aws.iam.Role]
    preview_role: aws.iam.Role

    def __init__(
        self, name: str, args: GithubDeployAccessArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("dofs:index:GithubDeployAccess", name, None, opts)
        scope = args.scope
        self.provider = aws.iam.OpenIdConnectProvider(
            "github",
            url=f"https://{GITHUB_OIDC_HOST}",
            client_id_lists=[AUDIENCE],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.boundary = aws.iam.Policy(
            "role-boundary",
            name=BOUNDARY_NAME,
            description="The most a role created by a DOFS deploy may do",
            policy=pulumi.Output.json_dumps(document(boundary_grants(scope))),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.deploy_roles = {
            stack: self._role(
                deploy_role_name(stack),
                [args.deploy_subject(stack)],
                [
                    *read_grants(scope, f"dofs-*-{stack}"),
                    *write_grants(scope, f"dofs-*-{stack}", self.boundary.arn),
                    *state_grants(args.state_bucket, writes=True, partition=scope.partition),
                ],
            )
            for stack in args.stacks
        }
        self.preview_role = self._role(
            PREVIEW_ROLE_NAME,
            args.preview_subjects(),
            [
                *read_grants(scope, "dofs-*"),
                *state_grants(args.state_bucket, writes=False, partition=scope.partition),
            ],
        )
        self.register_outputs(self.outputs())

    def outputs(self) -> dict[str, Any]:
        """What the README tells an administrator to copy into the repository's variables."""
        return {
            "oidc_provider_arn": self.provider.arn,
            "deploy_role_arns": {stack: role.arn for stack, role in self.deploy_roles.items()},
            "preview_role_arn": self.preview_role.arn,
            "permissions_boundary_arn": self.boundary.arn,
        }

    def _role(self, name: str, subjects: list[str], grants: list[Grant]) -> aws.iam.Role:
        role = aws.iam.Role(
            name,
            name=name,
            description=f"Assumed by GitHub Actions ({', '.join(subjects)})",
            assume_role_policy=pulumi.Output.json_dumps(trust_policy(self.provider.arn, subjects)),
            max_session_duration=3600,
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=pulumi.Output.json_dumps(document(grants)),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return role
