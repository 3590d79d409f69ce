"""What a cold start imports: each handler only what it uses (benchmarks/bench_imports.py times it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def modules_after_importing(module: str) -> set[str]:
    """Every module a fresh interpreter has loaded once it has imported ``module``."""
    script = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    loaded: list[str] = json.loads(result.stdout)
    return set(loaded)


def test_the_validator_loads_neither_boto3_nor_botocore() -> None:
    """It reads its input and returns its verdict: an AWS SDK would only lengthen its INIT."""
    loaded = modules_after_importing("handlers.validator")

    assert "handlers.validator" in loaded
    assert not {name for name in loaded if name.split(".")[0] in {"boto3", "botocore", "s3transfer"}}


def models_built_after_importing(module: str) -> dict[str, bool]:
    """Which of handlers.models' models a fresh interpreter has built once it has imported ``module``."""
    script = (
        f"import json, pydantic, {module}\n"
        "from handlers import models\n"
        "built = {name: model.__pydantic_complete__ for name, model in vars(models).items()\n"
        "         if isinstance(model, type) and issubclass(model, pydantic.BaseModel)\n"
        "         and model.__module__ == models.__name__ and not name.startswith('_')}\n"
        "print(json.dumps(built))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    built: dict[str, bool] = json.loads(result.stdout)
    return built


def test_a_handler_builds_at_import_the_models_it_uses_and_no_other() -> None:
    """Built once, during INIT, and only what the function needs: fulfillment reads queue
    messages and never parses an order or a workflow request."""
    built = models_built_after_importing("handlers.fulfill_order")

    assert built.pop("FulfillmentMessage") is True
    assert set(built) >= {"Order", "WorkflowInput", "StoreValidatedOrder", "ValidationOutcome"}
    assert not any(built.values()), built
