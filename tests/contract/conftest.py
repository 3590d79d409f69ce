"""One local stack for the contract tier, started as a developer starts it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.stack_process import FAST_RETRIES, StackProcess


@pytest.fixture(scope="session")
def contract_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    stack = StackProcess(tmp_path_factory.mktemp("stack"), FAST_RETRIES).start()
    yield stack
    assert stack.stop() == 0, stack.console
