"""`pulumi up` installs only requirements.txt: the program must not import anything else."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# Installed for development only (requirements-dev.in), absent from Pulumi's .venv.
DEV_ONLY_PACKAGES = (
    "boto3",
    "botocore",
    "aws_lambda_powertools",
    "moto",
    "pytest",
    "hypothesis",
    "mypy",
    "ruff",
)

BLOCKER = f"""
import importlib.abc, sys
class DevOnlyBlocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {DEV_ONLY_PACKAGES!r}:
            raise ImportError(f"{{name}} is not in requirements.txt")
        return None
sys.meta_path.insert(0, DevOnlyBlocker())
import components.program, components.config
print("ok")
"""


def test_program_imports_only_what_requirements_txt_installs() -> None:
    result = subprocess.run(
        [sys.executable, "-c", BLOCKER], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_requirements_txt_pins_every_direct_dependency() -> None:
    lines = [
        line.strip()
        for line in (PROJECT_ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    assert {line.split("==")[0] for line in lines} == {"pulumi", "pulumi-aws", "pydantic"}
    assert all("==" in line for line in lines)
