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


# The longest modules first: make test spreads modules over xdist workers in collection
# order, and alphabetically the two soaks came last, so one worker ran them after the rest.
LONGEST_FIRST = (
    "test_soak_standard.py",
    "test_soak_express.py",
    "test_order_flow.py",
    "test_run_command.py",
    "test_documented_commands.py",
    "test_cost.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: each module keeps its own order
