"""The small soak on the prod stack's settings: an EXPRESS workflow, executions run twice on purpose."""

from __future__ import annotations

from tests.integration.small_soak import soak_and_check


def test_a_small_soak_on_express_with_faults_loses_doubles_and_strands_nothing() -> None:
    soak_and_check("prod")
