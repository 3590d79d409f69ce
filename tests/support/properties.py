"""Hypothesis settings shared by the property tests: the same examples on every run."""

from __future__ import annotations

from hypothesis import HealthCheck, settings


def reproducible(examples: int, *also_suppressed: HealthCheck) -> settings:
    """``examples`` generated cases, derived from the code rather than a random seed or a
    saved database, so CI runs what a developer ran; no per-example deadline on 2 cores."""
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, *also_suppressed],
    )
