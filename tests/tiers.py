"""What ``make test`` runs: lint, format, types and every test tier, in parallel lanes.

    python -m tests.tiers [--jobs N] [--only NAME ...]

Each check runs as its own process with its output in ``build/test-logs/<name>.log``;
the checks start longest first, at most ``--jobs`` at a time (default 2, one lane for the
integration tier, which mostly waits on timers, and one for the rest: more lanes on this
2-core machine only slow the timed integration tests down). A failing check prints its log's
tail. At the end a table gives each check's time and counts, and the last line sums the
tests: ``N passed, N failed``. Every directory of ``tests/`` that holds ``test_*.py`` is
a tier; a new one runs without being named here.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
LOGS = ROOT / "build" / "test-logs"
PYTHON = sys.executable
DEFAULT_JOBS = 2
LOG_TAIL_LINES = 60
MYPY_TARGETS = (
    "__main__.py",
    "components",
    "handlers",
    "local",
    "ops",
    "tests",
    "benchmarks",
    "policies",
    "bootstrap",
)
# Tiers whose tests mostly wait (local stacks, SQS visibility timeouts) run across
# several xdist workers; a module's tests stay on one worker (its stack is module-wide).
XDIST_WORKERS = {"integration": 3, "unit": 2, "workflow": 2}
# Longest first, so the long tier is never the one that starts last.
EXPECTED_ORDER = ("integration", "unit", "browser", "contract", "typecheck", "workflow", "infra", "pipeline")
SUMMARY = re.compile(r"=+ (?P<summary>.*?\d+ (?:passed|failed|error).*?) in [\d.]+s")
COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected)")


@dataclass(frozen=True)
class Check:
    name: str
    argv: tuple[str, ...]


@dataclass
class Outcome:
    check: Check
    returncode: int
    seconds: float
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def tiers() -> list[str]:
    return sorted(p.name for p in TESTS.iterdir() if p.is_dir() and any(p.glob("test_*.py")))


def pytest_check(tier: str) -> Check:
    argv = [PYTHON, "-m", "pytest", f"tests/{tier}", "-p", "no:cacheprovider", "--durations=15"]
    workers = XDIST_WORKERS.get(tier)
    if workers:
        argv += ["-n", str(workers), "--dist", "loadscope"]
    return Check(tier, tuple(argv))


def all_checks() -> list[Check]:
    checks = [
        Check("lint", (PYTHON, "-m", "ruff", "check", ".")),
        Check("format", (PYTHON, "-m", "ruff", "format", "--check", ".")),
        Check("typecheck", (PYTHON, "-m", "mypy", *MYPY_TARGETS)),
        *(pytest_check(tier) for tier in tiers()),
    ]
    rank = {name: index for index, name in enumerate(EXPECTED_ORDER)}
    return sorted(checks, key=lambda check: rank.get(check.name, len(rank)))


def counts_of(log: str) -> dict[str, int]:
    matches = SUMMARY.findall(log)
    if not matches:
        return {}
    return {
        kind.rstrip("s") if kind.startswith("error") else kind: int(n)
        for n, kind in COUNT.findall(matches[-1])
    }


def run(check: Check, report: threading.Lock) -> Outcome:
    log_path = LOGS / f"{check.name}.log"
    started = time.monotonic()
    with log_path.open("w") as log:
        process = subprocess.run(check.argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, check=False)
    outcome = Outcome(check, process.returncode, time.monotonic() - started)
    text = log_path.read_text(errors="replace")
    outcome.counts = counts_of(text)
    with report:
        status = "ok" if outcome.ok else f"FAILED (exit {process.returncode})"
        print(
            f"  {check.name:<12} {status:<16} {outcome.seconds:6.1f} s   {os.path.relpath(log_path, ROOT)}",
            flush=True,
        )
        if not outcome.ok:
            tail = text.splitlines()[-LOG_TAIL_LINES:]
            print("\n".join(f"    | {line}" for line in tail), flush=True)
    return outcome


def table(outcomes: Sequence[Outcome], wall: float) -> list[str]:
    lines = ["", f"{'check':<12} {'seconds':>8}  result", f"{'-' * 12} {'-' * 8}  {'-' * 30}"]
    for outcome in sorted(outcomes, key=lambda o: -o.seconds):
        counts = ", ".join(f"{n} {kind}" for kind, n in outcome.counts.items()) or "-"
        lines.append(
            f"{outcome.check.name:<12} {outcome.seconds:8.1f}  {'ok' if outcome.ok else 'FAILED'}: {counts}"
        )
    lines.append(f"{'wall clock':<12} {wall:8.1f}  ({sum(o.seconds for o in outcomes):.1f} s of checks)")
    passed = sum(o.counts.get("passed", 0) for o in outcomes)
    failed = sum(o.counts.get("failed", 0) + o.counts.get("error", 0) for o in outcomes)
    failed += sum(1 for o in outcomes if not o.ok and not o.counts)  # a failing lint or type check
    lines.append(f"{passed} passed, {failed} failed")
    return lines


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.tiers", description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("DOFS_TEST_JOBS", DEFAULT_JOBS)))
    parser.add_argument("--only", action="append", help="run only this check (repeatable)")
    args = parser.parse_args(argv)
    checks = all_checks()
    unknown = set(args.only or ()) - {c.name for c in checks}
    if unknown:
        parser.error(
            f"unknown check(s) {', '.join(sorted(unknown))}; known: {', '.join(c.name for c in checks)}"
        )
    if args.only:
        checks = [c for c in checks if c.name in args.only]
    LOGS.mkdir(parents=True, exist_ok=True)
    print(
        f"running {len(checks)} checks, {args.jobs} at a time (logs in {LOGS.relative_to(ROOT)}/):",
        flush=True,
    )
    started, report = time.monotonic(), threading.Lock()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        outcomes = list(pool.map(lambda check: run(check, report), checks))
    print("\n".join(table(outcomes, time.monotonic() - started)))
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
