"""Local stacks shared per module: each starts once and is stopped with Ctrl-C."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.stack_process import FAST_RETRIES, StackProcess


def _running(tmp_path_factory: pytest.TempPathFactory, **config: str) -> Iterator[StackProcess]:
    stack = StackProcess(tmp_path_factory.mktemp("stack"), {**FAST_RETRIES, **config}).start()
    yield stack
    assert stack.stop() == 0, stack.console


@pytest.fixture(scope="package")
def dev_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    """The dev stack as configured (success rate 0.7), with fast retries."""
    yield from _running(tmp_path_factory)


@pytest.fixture(scope="package")
def always_failing_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    yield from _running(tmp_path_factory, **{"dofs:fulfillmentSuccessRate": "0"})


@pytest.fixture(scope="package")
def always_succeeding_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    yield from _running(tmp_path_factory, **{"dofs:fulfillmentSuccessRate": "1"})
