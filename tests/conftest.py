"""Shared fixtures: fake AWS credentials, a fresh moto emulator, JSON test events."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from botocore import loaders

from handlers import aws

FIXTURES = Path(__file__).parent / "fixtures"
REGION = "ap-south-1"


@pytest.fixture(autouse=True, scope="session")
def _one_botocore_loader() -> Iterator[None]:
    """moto gives every test a new boto3 session, and botocore's loader is per session: each
    test parsed the services' JSON models again, most of a unit test's time. The models are
    read-only, so one loader (per data path) serves every session of the run."""
    with mock.patch("botocore.session.create_loader", functools.cache(loaders.create_loader)):
        yield


@pytest.fixture(autouse=True)
def _fake_aws_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test can reach a real AWS account: fake credentials, a fixed region."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    aws.reset_clients()
    yield
    aws.reset_clients()


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def valid_order() -> dict[str, Any]:
    order: dict[str, Any] = load_fixture("valid_order.json")
    return order
