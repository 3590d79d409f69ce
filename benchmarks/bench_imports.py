"""Cold-start imports: what a fresh interpreter spends importing each Lambda entry module,
against one that imports boto3 alone.

    .venv/bin/python -m benchmarks.bench_imports [--runs 7] [--max-ratio 1.3]

Since 2025-08-01 Lambda bills the INIT phase of ZIP functions on managed runtimes, and a
cold start waits for it (AWS Compute Blog, "AWS Lambda standardizes billing for INIT
Phase"). Importing the handler module is the part of INIT that the code decides.

Each round runs ``python -c "import X"`` once for every module, each in a fresh process.
Times are the best of the rounds; a ratio is the median over the rounds of a module's
time over boto3's in the same round, so that a busy (or quiet) spell of this shared
machine moves both sides of a ratio alike.
The modules come from the handler archive the program deploys, unpacked into a temporary
directory and never allowed to write bytecode: as on Lambda, whose read-only
``/var/task`` holds no ``__pycache__``, every cold start compiles the handlers' source
(boto3 comes precompiled, with the runtime).

The ratio is of CPU time (user + system, the kernel's account of each finished process):
on a shared machine the wall clock also counts the time a process waits for a core, and
swings with the neighbours; the wall times are printed alongside. Exits 1 when a
handler's ratio is above ``--max-ratio``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from components.packaging import build_handler_archive

BASELINE = "boto3"
# The modules the program names as Lambda entry points (a test keeps the two equal).
HANDLER_MODULES = (
    "handlers.api_handler",
    "handlers.validator",
    "handlers.order_storage",
    "handlers.fulfill_order",
    "handlers.dlq_processor",
    "handlers.reconciler",
)


@dataclass(frozen=True)
class Sample:
    cpu_seconds: float
    wall_seconds: float


def _run(statement: str, task_root: Path, environment: dict[str, str]) -> Sample:
    """CPU and wall time of one fresh interpreter that runs ``statement`` and exits."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", statement], cwd=task_root, env=environment)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"python -c {statement!r} failed with exit code {process.returncode}")
    return Sample(usage.ru_utime + usage.ru_stime, wall)


def rounds(statements: dict[str, str], task_root: Path, runs: int) -> list[dict[str, Sample]]:
    """``runs`` rounds, each running every statement once in a fresh interpreter."""
    environment = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return [
        {label: _run(statement, task_root, environment) for label, statement in statements.items()}
        for _ in range(runs)
    ]


@dataclass(frozen=True)
class Figures:
    best_cpu_ms: float
    best_wall_ms: float
    cpu_ratio: float  # median over rounds of this round's time over boto3's in the same round
    wall_ratio: float


def figures(label: str, measured: list[dict[str, Sample]]) -> Figures:
    mine = [r[label] for r in measured]
    return Figures(
        best_cpu_ms=min(s.cpu_seconds for s in mine) * 1000,
        best_wall_ms=min(s.wall_seconds for s in mine) * 1000,
        cpu_ratio=statistics.median(r[label].cpu_seconds / r[BASELINE].cpu_seconds for r in measured),
        wall_ratio=statistics.median(r[label].wall_seconds / r[BASELINE].wall_seconds for r in measured),
    )


def _unpack_handler_archive(into: Path) -> Path:
    with zipfile.ZipFile(build_handler_archive().path) as archive:
        archive.extractall(into)
    return into


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--runs", type=int, default=7, help="rounds, each a fresh process per module (default 7)"
    )
    parser.add_argument(
        "--max-ratio", type=float, default=1.3, help="largest CPU ratio to boto3 (default 1.3)"
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    statements = {BASELINE: f"import {BASELINE}"}
    statements |= {module: f"import {module}" for module in HANDLER_MODULES}
    with tempfile.TemporaryDirectory(prefix="dofs-task-") as scratch:
        measured = rounds(statements, _unpack_handler_archive(Path(scratch)), args.runs)

    print(f"python -c 'import X', {args.runs} rounds of fresh processes, handlers from the deployed archive")
    print("times: best of the rounds; x boto3: median of the rounds' ratios")
    print(f"{'':<32} {'cpu ms':>7} {'x boto3':>8} {'wall ms':>8} {'x boto3':>8}")
    over = []
    for label in statements:
        result = figures(label, measured)
        over_limit = label in HANDLER_MODULES and result.cpu_ratio > args.max_ratio
        print(
            f"{label:<32} {result.best_cpu_ms:7.1f} {result.cpu_ratio:8.2f} "
            f"{result.best_wall_ms:8.1f} {result.wall_ratio:8.2f}{'  over' if over_limit else ''}"
        )
        if over_limit:
            over.append(label)
    if over:
        print(f"FAIL: {len(over)} of {len(HANDLER_MODULES)} handlers above {args.max_ratio}x boto3 (cpu)")
        return 1
    print(f"PASS: every handler within {args.max_ratio}x boto3 (cpu)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
