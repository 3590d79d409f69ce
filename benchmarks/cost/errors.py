"""The cost tool's errors: one base, so the command reports any of them in one line."""

from __future__ import annotations


class CostError(Exception):
    """The cost could not be measured or priced; the message says why."""


class UnknownRegionError(CostError):
    """No prices or quotas are kept for the region."""


class MeasurementError(CostError):
    """The run did not give complete counts (an order never finished, nothing ran)."""
