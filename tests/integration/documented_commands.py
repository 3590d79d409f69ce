"""The commands a newcomer is shown, as they are shown: the README's ```bash blocks and the
banner of ``make run``. Each is classified: run here, checked for its flags only (a server
that runs until Ctrl-C), or not run here for a stated reason (it needs the real cloud)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass

from local.pulumi_runner import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
FENCE = re.compile(r"^```(\S*)\s*$")
BANNER_START, BANNER_END = "DOFS is running locally", "Ctrl-C stops everything."
# Indented banner lines that start with one of these are commands; every other indented
# line must be one of the banner's facts (KNOWN_BANNER_LINE), so that a new command in
# another shape cannot slip by untested.
COMMAND_STARTS = ("curl ", "export ", "make ", ".venv/bin/")
KNOWN_BANNER_LINE = re.compile(
    r"^  (Order API|AWS emulator|Log file|Console) +\S+$"  # where things are
    r"|^  \S+ -> \S+, every [\d.]+ s$"  # a schedule served locally
    r"|^  API key +\S+ \(client \S+; send it as x-api-key\)$"  # a client's key (dofs:apiAuth api_key)
    r"|^  aws:\S+ \(.+\): .+$"  # a resource not run locally, and why
)

PULUMI_CONFIG = "changes a stack's settings through the Pulumi CLI"
AWS_ACCOUNT = "changes an AWS account's IAM or API Gateway settings"
# Commands that cannot run on this machine, each with the reason: the exact words as
# printed (comments left out). A command that is in none of these tables fails the test.
NOT_RUN_HERE = {
    "make test": "the whole suite, which runs this test",
    "pulumi login": "needs the Pulumi CLI and a Pulumi Cloud account (or a bucket)",
    "pulumi stack init dev": "needs the Pulumi CLI and a backend to keep the state",
    "pulumi config set dofs:logLevel DEBUG": "changes a stack's settings through the Pulumi CLI",
    "pulumi preview": "needs the Pulumi CLI and AWS credentials",
    "pulumi up": "creates the stack in an AWS account",
    "pulumi destroy": "deletes the stack from an AWS account",
    "pulumi config set dofs:protectData false && pulumi up": "changes a deployed stack in an AWS account",
    # Running it in production: API keys and the account's API Gateway logging role.
    "pulumi config set --path dofs:apiClients[1] partner-shop": PULUMI_CONFIG,
    "pulumi stack output --show-secrets api_keys": "reads a deployed stack's secrets through the Pulumi CLI",
    "aws iam create-role --role-name apigateway-cloudwatch-logs "
    "--assume-role-policy-document file://apigateway-trust.json": AWS_ACCOUNT,
    "aws iam attach-role-policy --role-name apigateway-cloudwatch-logs "
    "--policy-arn arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs": AWS_ACCOUNT,
    "aws apigateway update-account "
    "--patch-operations op=replace,path=/cloudwatchRoleArn,value=ROLE_ARN": AWS_ACCOUNT,
    "pulumi config set dofs:apiAccessLogs true": PULUMI_CONFIG,
    'pulumi config set dofs:alarmEmails ["oncall@example.com", "ops@example.com"]': (
        "changes a stack's settings through the Pulumi CLI (tests/infra/test_alerts_and_hardening.py "
        "runs the program with alarmEmails)"
    ),
    # make cost runs hundreds of orders through a stack of its own (minutes); test_cost.py
    # runs the same command on 20 orders and checks its counts.
    "make cost": "500 orders through a local stack: tests/integration/test_cost.py runs it on 20",
    "make cost ARGS=--stack prod --markdown": "as make cost, with prod's settings: test_cost.py",
    "make cost ARGS=--stack prod --config dofs:workflowType=EXPRESS": "as make cost: test_cost.py",
    # The CI bootstrap (README, "Deploying from CI"): an administrator's run against an AWS
    # account; tests/pipeline/test_bootstrap.py runs the program under Pulumi's mocks.
    "cd bootstrap && pulumi stack init ci": "needs the Pulumi CLI and a backend to keep the state",
    "pulumi config set githubRepository <owner>/<repo>": "bootstrap config, set by the Pulumi CLI",
    "pulumi config set stateBucket <bucket>": "bootstrap config, set by the Pulumi CLI",
    "pulumi stack output --json": "reads a deployed stack's outputs through the Pulumi CLI",
}
# Servers that run until Ctrl-C: their flags are checked instead (``make -n`` shows the
# command make would run; the run command's parser and the stack's settings judge it).
SERVERS = {("make", "run")}
RUN_HERE = {("curl",), ("export",), (".venv/bin/aws",), ("make", "smoke"), ("make", "redrive")}
RUN_HERE |= {("make", "resources")}


@dataclass(frozen=True)
class Command:
    text: str  # as printed: continuation lines, quotes and comments included
    where: str  # README.md:LINE, or the banner

    @property
    def words(self) -> list[str]:
        return shlex.split(self.text, comments=True)

    def substituted(self, substitutions: dict[str, str]) -> Command:
        text = self.text
        for printed, actual in substitutions.items():
            text = text.replace(printed, actual)
        return Command(text, self.where)


def kind_of(command: Command) -> str:
    """``run``, ``flags`` or ``not run``; ``unknown`` for a command in no table."""
    words = command.words
    if " ".join(words) in NOT_RUN_HERE:
        return "not run"
    if tuple(words[:2]) in SERVERS:
        return "flags"
    if tuple(words[:1]) in RUN_HERE or tuple(words[:2]) in RUN_HERE:
        return "run"
    return "unknown"


def _complete(text: str) -> bool:
    """Whether ``text`` ends a command: no continuation backslash, no open quote."""
    if text.rstrip().endswith("\\"):
        return False
    try:
        shlex.split(text, comments=True)
    except ValueError:
        return False
    return True


def _group(lines: Iterable[tuple[str, str]]) -> list[Command]:
    """Lines (with where each is) joined into commands the way a shell reads them."""
    commands: list[Command] = []
    pending: list[str] = []
    first = ""
    for where, line in lines:
        if not pending:
            first = where
        pending.append(line)
        text = "\n".join(pending).strip()
        if _complete(text):
            if shlex.split(text, comments=True):  # not a comment or a blank line
                commands.append(Command(text, first))
            pending = []
    assert not pending, f"{first}: a command that never ends: {pending}"
    return commands


def readme_blocks() -> list[list[Command]]:
    """The commands of each ```bash block of the README, block by block."""
    blocks: list[list[tuple[str, str]]] = []
    language: str | None = None  # inside a fence: its language
    for number, line in enumerate(README.read_text().splitlines(), start=1):
        fence = FENCE.match(line)
        if fence and language is None:
            language = fence[1]
            if language == "bash":
                blocks.append([])
        elif fence:
            language = None
        elif language == "bash":
            blocks[-1].append((f"README.md:{number}", line))
    return [_group(block) for block in blocks]


@dataclass(frozen=True)
class Banner:
    commands: list[Command]
    unknown_lines: list[str]  # indented lines that are neither a command nor a known fact


def banner_in(console: str) -> Banner:
    """The commands of the banner ``make run`` printed on its terminal."""
    lines = console.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(BANNER_START))
    end = next(i for i in range(start, len(lines)) if lines[i].startswith(BANNER_END))
    prefixes = tuple(f"  {command}" for command in COMMAND_STARTS)
    commands, unknown = [], []
    pending: list[str] = []
    for line in lines[start:end]:
        if pending or line.startswith(prefixes):
            pending.append(line)
            text = "\n".join(pending).strip()
            if _complete(text):
                commands.append(Command(text, "the banner"))
                pending = []
        elif line.startswith(" ") and not KNOWN_BANNER_LINE.match(line):
            unknown.append(line)
    assert not pending, f"the banner: a command that never ends: {pending}"
    return Banner(commands, unknown)
