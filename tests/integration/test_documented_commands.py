"""Every command the README's code blocks and the banner of ``make run`` show, run as printed
through ``bash -c`` against a local stack: a changed body, route or flag breaks this test,
not a newcomer.

What is replaced before a command runs, and why:
- the README is written for ``make run``'s defaults, while the test stacks run on free
  ports: ``http://127.0.0.1:8080`` and ``:4566`` become the test stack's API and emulator,
  ``build/local/dev-outputs.json`` its outputs file, and make's default ``URL`` (which the
  bare ``make smoke`` uses) is set to the test stack's API in make's environment;
- ``$(pulumi stack output api_url)``, a deployed stack's API, becomes the local API,
  which serves the same routes;
- ``<order_id>`` becomes the order the block placed before it, as a reader would.
The banner's commands name the running stack already and run unchanged.

Each block, and the banner, is one shell: an ``export`` carries over to the commands after
it, and nothing else does (the environment holds no AWS credentials, region or config).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from components.config import StackConfigError
from handlers.models import TERMINAL_STATUSES
from local import smoke
from local.cli import UsageError, parse_run_arguments
from local.errors import LocalStackError
from local.pulumi_runner import PROJECT_ROOT
from local.stack import LocalStack
from tests.integration.documented_commands import (
    NOT_RUN_HERE,
    Command,
    banner_in,
    kind_of,
    readme_blocks,
)
from tests.integration.stack_process import FAST_RETRIES, StackProcess

COMMAND_TIMEOUT_SECONDS = 120
SMOKE_TIMEOUT_SECONDS = 300
ORDER_DEADLINE_SECONDS = 90.0
README_DEFAULT_API, README_DEFAULT_EMULATOR = "http://127.0.0.1:8080", "http://127.0.0.1:4566"
PULUMI_API_URL = "$(pulumi stack output api_url)"


@pytest.fixture(scope="module")
def prod_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    """``make run ARGS="--stack prod"``, whose banner must name prod for the smoke test."""
    stack = StackProcess(tmp_path_factory.mktemp("prod"), FAST_RETRIES, stack="prod").start()
    yield stack
    assert stack.stop() == 0, stack.console


def readme_substitutions(stack: StackProcess) -> dict[str, str]:
    return {
        README_DEFAULT_API: stack.api_url,
        README_DEFAULT_EMULATOR: stack.outputs["aws_endpoint"],
        "build/local/dev-outputs.json": str(stack.outputs_file),
        PULUMI_API_URL: stack.api_url,
    }


# Under `make test`, make exports these; a nested make would then print "Entering
# directory" lines that no newcomer sees.
ENCLOSING_MAKE_VARIABLES = frozenset(
    {"MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES", "MAKE_TERMOUT", "MAKE_TERMERR"}
)


def shell_environment(stack: StackProcess, home: Path) -> dict[str, str]:
    """This process's environment without any AWS setting or an enclosing make's variables
    (a newcomer's shell has neither), and ``URL`` for make's default."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("AWS_") and name not in ENCLOSING_MAKE_VARIABLES
    }
    missing = home / "no-such-file"
    return {
        **environment,
        "AWS_CONFIG_FILE": str(missing),
        "AWS_SHARED_CREDENTIALS_FILE": str(missing),
        "AWS_EC2_METADATA_DISABLED": "true",
        "URL": stack.api_url,
    }


@dataclass
class Shell:
    """One terminal, into which a block's commands are pasted in order."""

    environment: dict[str, str]
    stack: str
    exports: list[str] = field(default_factory=list)
    order_id: str | None = None

    def _script(self, command: Command) -> list[str]:
        return ["bash", "-c", "\n".join([*self.exports, command.text])]

    def run(self, command: Command) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self._script(command),
            cwd=PROJECT_ROOT,
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_SECONDS,
            check=False,
        )

    def start(self, command: Command) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self._script(command),
            cwd=PROJECT_ROOT,
            env=self.environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )


@dataclass
class Outcome:
    """What the commands showed: problems, and smoke runs still going."""

    problems: list[str] = field(default_factory=list)
    smokes: list[tuple[Command, str, subprocess.Popen[str]]] = field(default_factory=list)
    smoked: set[str] = field(default_factory=set)  # the smoke runs started

    def fail(self, command: Command, problem: str) -> None:
        self.problems.append(f"{command.where}: {command.text!r}\n    {problem}")

    def stop_smokes(self) -> None:
        """Ends any smoke run still going (when the test failed before it was waited for)."""
        for _, _, process in self.smokes:
            if process.poll() is None:
                process.kill()
                process.wait()


def _output(finished: subprocess.CompletedProcess[str]) -> str:
    return f"exit {finished.returncode}: {(finished.stdout + finished.stderr).strip()[-600:]}"


def _answer(output: str, with_headers: bool) -> tuple[int | None, Any]:
    """The HTTP status (with ``curl -i``) and the JSON body curl printed."""
    status = None
    if with_headers:
        head, _, output = output.replace("\r\n", "\n").partition("\n\n")
        status = int(head.split()[1])
    try:
        return status, json.loads(output)
    except ValueError:
        return status, None


def check_curl(shell: Shell, command: Command, outcome: Outcome) -> None:
    words = command.words
    if "<order_id>" in command.text:
        if shell.order_id is None:
            outcome.fail(command, "no order was placed before it")
            return
        command = command.substituted({"<order_id>": shell.order_id})
        _follow_order(shell, command, outcome)
        return
    finished = shell.run(command)
    status, body = _answer(finished.stdout, "-i" in words)
    if finished.returncode != 0 or not isinstance(body, dict):
        outcome.fail(command, _output(finished))
    elif "POST" in words and (status != 202 or "order_id" not in body):
        outcome.fail(command, f"answered {status} {body}; expected 202 with an order_id")
    elif "POST" in words:
        shell.order_id = body["order_id"]
    elif (status or 200) >= 300 or "error" in body or "message" in body:
        outcome.fail(command, f"answered {status} {body}")


def _follow_order(shell: Shell, command: Command, outcome: Outcome) -> None:
    """``GET /orders/{id}`` as printed, until the order is final (or the deadline)."""
    deadline = time.monotonic() + ORDER_DEADLINE_SECONDS
    while True:
        finished = shell.run(command)
        _, body = _answer(finished.stdout, "-i" in command.words)
        if finished.returncode != 0 or not isinstance(body, dict) or "status" not in body:
            outcome.fail(command, _output(finished))
            return
        if body["status"] in TERMINAL_STATUSES:
            return
        if time.monotonic() > deadline:
            outcome.fail(command, f"order still {body['status']} after {ORDER_DEADLINE_SECONDS:g} s")
            return
        time.sleep(0.5)


def check_server_flags(shell: Shell, command: Command, outcome: Outcome) -> None:
    """``make -n run ...`` shows the command make would start; its flags must be taken."""
    dry_run = Command(command.text.replace("make run", "make -n run", 1), command.where)
    finished = shell.run(dry_run)
    started = [line for line in finished.stdout.splitlines() if " -m local run" in line]
    if finished.returncode != 0 or not started:
        outcome.fail(command, _output(finished))
        return
    words = shlex.split(started[-1])
    try:
        _, options = parse_run_arguments(words[words.index("run") + 1 :])
        LocalStack(options)  # checks the stack and its settings, starts nothing
    except (UsageError, LocalStackError, StackConfigError) as exc:
        outcome.fail(command, f"refused: {exc}")


def check_finished(shell: Shell, command: Command, outcome: Outcome) -> None:
    finished = shell.run(command)
    words = command.words
    if finished.returncode != 0:
        outcome.fail(command, _output(finished))
    elif words[0] == ".venv/bin/aws":
        try:
            json.loads(finished.stdout)
        except ValueError:
            outcome.fail(command, f"not the JSON the AWS CLI prints: {_output(finished)}")
    elif words[:2] == ["make", "resources"]:
        stacks = [line.split(":")[0] for line in finished.stdout.splitlines() if line.startswith("stack ")]
        if stacks != ["stack dev", "stack prod"]:
            outcome.fail(command, f"listed {stacks}, not dev and prod")


def smoke_run(shell: Shell, command: Command) -> str:
    """The smoke run a ``make smoke`` line asks for (``make -n`` shows the command), so that
    two lines asking for the same run, such as a bare ``make smoke`` and one naming the
    default stack, run once."""
    dry_run = Command(command.text.replace("make smoke", "make -n smoke", 1), command.where)
    started = [line for line in shell.run(dry_run).stdout.splitlines() if " -m local smoke" in line]
    if not started:
        return command.text
    words = shlex.split(started[-1])
    try:
        options = smoke.build_parser().parse_args(words[words.index("smoke") + 1 :])
    except SystemExit:  # refused flags: the run itself reports them
        return command.text
    return repr(sorted(vars(options).items()))


def start_smokes(shell: Shell, commands: list[Command], outcome: Outcome) -> None:
    """Start the block's smoke lines first, each after the exports above it: they are the
    slowest commands and change nothing the others read, so they run side by side."""
    exports = list(shell.exports)
    for command in commands:
        words = command.words
        if words[0] == "export":
            exports.append(command.text)
        elif words[:2] == ["make", "smoke"]:
            run = smoke_run(shell, command)
            if run not in outcome.smoked:
                outcome.smoked.add(run)
                started = Shell(shell.environment, shell.stack, exports).start(command)
                outcome.smokes.append((command, shell.stack, started))


def run_commands(shell: Shell, commands: list[Command], outcome: Outcome) -> None:
    """Every command but the smoke lines (``start_smokes``), in order."""
    for command in commands:
        words, kind = command.words, kind_of(command)
        if kind == "not run" or words[:2] == ["make", "smoke"]:
            continue
        if kind == "unknown":  # never run a command nobody has classified
            outcome.fail(command, "in no table of documented_commands.py")
        elif kind == "flags":
            check_server_flags(shell, command, outcome)
        elif words[0] == "export":
            shell.exports.append(command.text)
        elif words[0] == "curl":
            check_curl(shell, command, outcome)
        else:
            check_finished(shell, command, outcome)


def check_smokes(outcome: Outcome) -> None:
    for command, stack, process in outcome.smokes:
        output, _ = process.communicate(timeout=SMOKE_TIMEOUT_SECONDS)
        verdict = output.strip().splitlines()[-1] if output.strip() else ""
        if process.returncode != 0 or not verdict.startswith("OK: 5 passed, 0 failed"):
            outcome.fail(command, f"exit {process.returncode}: {output.strip()[-1500:]}")
        elif not verdict.endswith(f"(stack {stack})"):
            outcome.fail(command, f"predicted from another stack than the running {stack}: {verdict}")


def _all_commands(console: str) -> list[Command]:
    return [command for block in readme_blocks() for command in block] + banner_in(console).commands


def test_every_command_shown_is_run_or_listed_with_the_reason_it_cannot_be(
    prod_stack: StackProcess,
) -> None:
    banner = banner_in(prod_stack.console)
    commands = _all_commands(prod_stack.console)

    assert banner.unknown_lines == [], "banner lines that are neither a command nor a known fact"
    unknown = [f"{c.where}: {c.text}" for c in commands if kind_of(c) == "unknown"]
    assert unknown == [], "commands in no table of documented_commands.py: run them or say why not"
    shown = {" ".join(command.words) for command in commands}
    assert sorted(set(NOT_RUN_HERE) - shown) == [], "NOT_RUN_HERE lists commands no longer shown"
    assert {kind_of(c) for c in banner.commands} == {"run"}


def test_the_readme_and_the_banner_work_as_printed(
    dev_stack: StackProcess, prod_stack: StackProcess, tmp_path: Path
) -> None:
    outcome = Outcome()
    substitutions = readme_substitutions(dev_stack)
    sessions = [
        (Shell(shell_environment(dev_stack, tmp_path), "dev"), [c.substituted(substitutions) for c in block])
        for block in readme_blocks()
    ]
    banner_shell = Shell(shell_environment(prod_stack, tmp_path), "prod")
    sessions.append((banner_shell, banner_in(prod_stack.console).commands))
    try:
        for shell, commands in sessions:
            start_smokes(shell, commands, outcome)
        for shell, commands in sessions:
            run_commands(shell, commands, outcome)
        check_smokes(outcome)
    finally:
        outcome.stop_smokes()

    assert outcome.problems == [], "\n".join(outcome.problems)
    assert banner_shell.order_id is not None, "the banner placed no order"
    assert [stack for _, stack, _ in outcome.smokes] == ["dev", "prod"]  # the README's, the banner's
