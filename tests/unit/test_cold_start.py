"""What a cold start imports: each handler only what it uses (benchmarks/bench_imports.py times it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def modules_after_importing(module: str) -> set[str]:
    """Every module a fresh interpreter has loaded once it has imported ``module``."""
    script = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    loaded: list[str] = json.loads(result.stdout)
    return set(loaded)


def test_the_validator_loads_no_aws_sdk() -> None:
    """It reads its input and returns its verdict: an AWS SDK would only lengthen its INIT.

    Powertools (its logger) imports the ``botocore`` package itself, to register its
    user-agent hook when botocore is there; that loads none of botocore's modules."""
    loaded = modules_after_importing("handlers.validator")

    assert "handlers.validator" in loaded
    assert "aws_lambda_powertools" in loaded
    sdk = {name for name in loaded if name.split(".")[0] in {"boto3", "botocore", "s3transfer"}}
    assert sdk <= {"botocore"}


# Every Lambda entry module that makes AWS calls: boto3 is its floor, so anything more it
# imports is pure cold-start cost.
AWS_CALLING_HANDLERS = (
    "handlers.api_handler",
    "handlers.order_storage",
    "handlers.fulfill_order",
    "handlers.dlq_processor",
    "handlers.reconciler",
)


@pytest.mark.parametrize("module", AWS_CALLING_HANDLERS)
def test_a_handler_that_calls_aws_loads_no_pydantic(module: str) -> None:
    """boto3 and pydantic together take about 1.4x boto3 alone: a handler that needs boto3
    parses its input by hand (handlers.parsing) to stay within 1.3x."""
    loaded = modules_after_importing(module)

    assert module in loaded
    assert "boto3" in loaded
    assert not {name for name in loaded if name.split(".")[0] in {"pydantic", "pydantic_core"}}


def test_the_validator_loads_no_pydantic_either() -> None:
    loaded = modules_after_importing("handlers.validator")

    assert not {name for name in loaded if name.split(".")[0] in {"pydantic", "pydantic_core"}}


def test_only_the_storage_function_loads_the_storage_requests() -> None:
    """Each function imports what it uses: fulfillment reads queue messages and never parses
    an order or a storage request."""
    assert "handlers.storage_requests" in modules_after_importing("handlers.order_storage")
    for module in ("handlers.fulfill_order", "handlers.dlq_processor", "handlers.reconciler"):
        loaded = modules_after_importing(module)
        assert not {"handlers.storage_requests", "handlers.order_shape"} & loaded, module
