"""How long a cold start's INIT phase runs, which Lambda bills since 2025-08-01.

INIT = the runtime's own start plus the import of the handler's module. The runtime's
part is lambda-perf's p90 for a Python 3.12 arm64 zip function with no imports (90 ms,
maxday/lambda-perf 2026-07/08, in the facts file); the import is measured here, in a
fresh interpreter per sample, with the function's environment variables: its CPU time,
which other work on this shared machine does not inflate as it does wall time, the median
of the samples. This machine is not Lambda's, so the figure is indicative.
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
from collections.abc import Mapping

from benchmarks.cost.errors import MeasurementError
from local.pulumi_runner import PROJECT_ROOT

RUNTIME_INIT_MS = 90
IMPORT_TIMEOUT_SECONDS = 60
TIME_IMPORT = (
    "import importlib, sys, time\n"
    "started = time.process_time()\n"
    "importlib.import_module(sys.argv[1])\n"
    "print((time.process_time() - started) * 1000)\n"
)


def import_milliseconds(module: str, environment: Mapping[str, str], samples: int) -> float:
    """Median CPU time to import ``module`` in a fresh interpreter."""
    times = []
    for _ in range(samples):
        completed = subprocess.run(
            [sys.executable, "-c", TIME_IMPORT, module],
            cwd=PROJECT_ROOT,
            env={"PATH": os.environ.get("PATH", ""), **environment},
            capture_output=True,
            text=True,
            timeout=IMPORT_TIMEOUT_SECONDS,
            check=False,
        )
        if completed.returncode != 0:
            last_line = (completed.stderr.strip().splitlines() or ["no output"])[-1]
            raise MeasurementError(f"importing {module} for its INIT time failed: {last_line}")
        times.append(float(completed.stdout.strip()))
    return statistics.median(times)


def init_milliseconds(handler: str, environment: Mapping[str, str], samples: int) -> int:
    """INIT billed per cold start of a function whose handler is ``module.function``."""
    module = handler.rpartition(".")[0]
    return math.ceil(RUNTIME_INIT_MS + import_milliseconds(module, environment, samples))
