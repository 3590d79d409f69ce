"""Cold-start imports: what a fresh interpreter spends importing each Lambda entry module,
against one that imports boto3 alone.

    .venv/bin/python -m benchmarks.bench_imports [--runs 7] [--max-ratio 1.3]

Since 2025-08-01 Lambda bills the INIT phase of ZIP functions on managed runtimes, and a
cold start waits for it (AWS Compute Blog, "AWS Lambda standardizes billing for INIT
Phase"). Importing the handler module is the part of INIT that the code decides.

Each figure is the best of ``--runs`` fresh processes ``python -c "import X"``, in
interleaved rounds, so that a busy spell of this shared machine hits every module alike.
The modules come from the handler archive the program deploys, unpacked into a temporary
directory and never allowed to write bytecode: as on Lambda, whose read-only
``/var/task`` holds no ``__pycache__``, every cold start compiles the handlers' source
(boto3 and pydantic come precompiled, from the runtime and the layer).

The ratio is of CPU time (user + system, the kernel's account of each finished process):
on a shared machine the wall clock also counts the time a process waits for a core, and
swings with the neighbours; the wall times are printed alongside. The last row imports
boto3 and pydantic and defines one model, with no DOFS code: the floor of any handler
that calls AWS and parses its input with pydantic; the "DOFS code" column is what each
handler adds to it. Exits 1 when a handler's ratio is above ``--max-ratio``.
"""

from __future__ import annotations

import argparse
import os
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
FLOOR = "boto3 + pydantic, no DOFS code"
# With pydantic's plugin search off, as the handlers package turns it off.
FLOOR_STATEMENT = (
    "import os\nos.environ['PYDANTIC_DISABLE_PLUGINS'] = '__all__'\n"
    "import boto3\nfrom pydantic import BaseModel\nclass Floor(BaseModel):\n    value: int"
)


@dataclass
class Best:
    cpu_seconds: float = float("inf")
    wall_seconds: float = float("inf")


def _run(statement: str, task_root: Path, environment: dict[str, str]) -> tuple[float, float]:
    """CPU and wall seconds of one fresh interpreter that runs ``statement`` and exits."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", statement], cwd=task_root, env=environment)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"python -c {statement!r} failed with exit code {process.returncode}")
    return usage.ru_utime + usage.ru_stime, wall


def best_of(statements: dict[str, str], task_root: Path, runs: int) -> dict[str, Best]:
    """The lowest CPU and wall time of ``runs`` fresh runs of each statement, one round of all at a time."""
    environment = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    best = {label: Best() for label in statements}
    for _ in range(runs):
        for label, statement in statements.items():
            cpu, wall = _run(statement, task_root, environment)
            best[label].cpu_seconds = min(best[label].cpu_seconds, cpu)
            best[label].wall_seconds = min(best[label].wall_seconds, wall)
    return best


def _unpack_handler_archive(into: Path) -> Path:
    with zipfile.ZipFile(build_handler_archive().path) as archive:
        archive.extractall(into)
    return into


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per module (default 7)")
    parser.add_argument(
        "--max-ratio", type=float, default=1.3, help="largest CPU ratio to boto3 (default 1.3)"
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    statements = {BASELINE: f"import {BASELINE}"}
    statements |= {module: f"import {module}" for module in HANDLER_MODULES}
    statements[FLOOR] = FLOOR_STATEMENT
    with tempfile.TemporaryDirectory(prefix="dofs-task-") as scratch:
        best = best_of(statements, _unpack_handler_archive(Path(scratch)), args.runs)

    baseline, floor = best[BASELINE], best[FLOOR]
    print(f"python -c 'import X': best of {args.runs} fresh processes, handlers from the deployed archive")
    print(f"{'':<32} {'cpu ms':>7} {'x boto3':>8} {'wall ms':>8} {'x boto3':>8} {'DOFS code':>10}")
    over = []
    for label, figures in best.items():
        cpu_ratio = figures.cpu_seconds / baseline.cpu_seconds
        wall_ratio = figures.wall_seconds / baseline.wall_seconds
        # What the handler adds to the floor, in the same unit: CPU time of boto3 alone.
        own = (figures.cpu_seconds - floor.cpu_seconds) / baseline.cpu_seconds
        # A handler below the floor (the validator, without boto3) has no share of it to show.
        own_column = f"{own:+10.2f}" if label in HANDLER_MODULES and own >= 0 else ""
        over_limit = label in HANDLER_MODULES and cpu_ratio > args.max_ratio
        print(
            f"{label:<32} {figures.cpu_seconds * 1000:7.1f} {cpu_ratio:8.2f} "
            f"{figures.wall_seconds * 1000:8.1f} {wall_ratio:8.2f} {own_column:>10}"
            f"{'  over' if over_limit else ''}"
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
