"""The GitHub Actions workflows in ``.github/workflows/``, parsed: what they run and where."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from local.pulumi_runner import PROJECT_ROOT

WORKFLOWS = PROJECT_ROOT / ".github" / "workflows"
MAKE_TARGET = re.compile(r"(?:^|[\s;&|(])make\s+([a-z][\w-]*)")
STACK_FLAG = re.compile(r"--stack[ =]\"?([A-Za-z0-9_.-]+)\"?")


@dataclass(frozen=True)
class Workflow:
    path: Path
    document: dict[Any, Any]

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def triggers(self) -> dict[str, Any]:
        # YAML 1.1 reads the bare key `on` as the boolean True.
        on: Any = self.document.get("on", self.document.get(True))
        return on if isinstance(on, dict) else dict.fromkeys(on if isinstance(on, list) else [on])

    @property
    def jobs(self) -> dict[str, dict[str, Any]]:
        jobs: dict[str, dict[str, Any]] = self.document["jobs"]
        return jobs

    def steps(self) -> Iterator[dict[str, Any]]:
        for job in self.jobs.values():
            yield from job.get("steps", [])

    def run_scripts(self) -> Iterator[str]:
        yield from (step["run"] for step in self.steps() if "run" in step)

    def make_targets(self) -> set[str]:
        return {target for script in self.run_scripts() for target in MAKE_TARGET.findall(script)}

    def stacks(self) -> set[str]:
        """Every stack named: pulumi/actions' stack-name, a matrix of stacks, a STACK variable
        and a literal --stack flag (expressions such as ``${{ matrix.stack }}`` are skipped)."""
        named: set[str] = set()
        for job in self.jobs.values():
            named.update(job.get("strategy", {}).get("matrix", {}).get("stack", []))
            named.add(job.get("env", {}).get("STACK", ""))
            for step in job.get("steps", []):
                named.add(step.get("with", {}).get("stack-name", ""))
                named.update(STACK_FLAG.findall(step.get("run", "")))
        return {stack for stack in named if stack and "${{" not in stack and "$" not in stack}


def workflows() -> list[Workflow]:
    return [Workflow(p, yaml.safe_load(p.read_text())) for p in sorted(WORKFLOWS.glob("*.yml"))]


def makefile_targets(makefile: Path = PROJECT_ROOT / "Makefile") -> set[str]:
    targets: set[str] = set()
    for line in makefile.read_text().splitlines():
        match = re.match(r"^([a-z][\w -]*):(?!=)", line)
        if match:
            targets.update(match.group(1).split())
    return targets
