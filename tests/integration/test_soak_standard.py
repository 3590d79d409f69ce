"""The small soak on the dev stack's settings: a STANDARD workflow."""

from __future__ import annotations

from tests.integration.small_soak import soak_and_check


def test_a_small_soak_on_standard_with_faults_loses_doubles_and_strands_nothing() -> None:
    soak_and_check("dev")
