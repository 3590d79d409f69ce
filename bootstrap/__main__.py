"""DOFS's CI bootstrap: ``cd bootstrap && pulumi up``, once per AWS account and region.

Config (``pulumi config set KEY VALUE``):
- ``githubRepository`` (required): ``owner/name`` of the repository whose workflows deploy;
- ``stacks``: the DOFS stacks to deploy (default ``["dev", "prod"]``);
- ``environmentStacks``: stacks deployed from a GitHub environment (default ``["prod"]``);
- ``stateBucket``: the S3 bucket of a self-managed Pulumi backend, if the stacks keep
  their state there (unset for Pulumi Cloud).
The account, region and partition are the AWS provider's.
"""

import sys
from pathlib import Path

# The engine runs this file from bootstrap/; its modules are imported as the bootstrap package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pulumi
import pulumi_aws as aws

from bootstrap.github_oidc import GithubDeployAccess, GithubDeployAccessArgs
from bootstrap.permissions import Scope

config = pulumi.Config()
args = GithubDeployAccessArgs(
    repository=config.require("githubRepository"),
    stacks=tuple(config.get_object("stacks") or ("dev", "prod")),
    environment_stacks=frozenset(config.get_object("environmentStacks") or ("prod",)),
    scope=Scope(
        partition=aws.get_partition().partition,
        account=aws.get_caller_identity().account_id,
        region=aws.get_region().region,
    ),
    state_bucket=config.get("stateBucket"),
)
access = GithubDeployAccess("github-deploy-access", args)
for key, value in access.outputs().items():
    pulumi.export(key, value)
