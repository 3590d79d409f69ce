"""One local stack for the contract tier, started as a developer starts it, with prod's auth
mode (API keys), so the document's security scheme and 403s are exercised too."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.stack_process import FAST_RETRIES, StackProcess

API_KEY_AUTH = {"dofs:apiAuth": "api_key", "dofs:apiClients": '["contract-tests"]'}


@pytest.fixture(scope="session")
def contract_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    config = {**FAST_RETRIES, **API_KEY_AUTH}
    stack = StackProcess(tmp_path_factory.mktemp("stack"), config).start()
    yield stack
    assert stack.stop() == 0, stack.console
