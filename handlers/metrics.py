"""Business metrics in CloudWatch's embedded metric format (EMF), through Powertools.

A metric is written to stdout as an EMF object, which CloudWatch Logs turns into a
metric: no API call, nothing to wait for. During an invocation (``published``) the
metrics are collected and written once at its end, one EMF line per dimension set
(Powertools aggregates the values of one name). Outside one (a service used by a test or
an ops command) nothing is written: only a function's stdout reaches a log group, so
only an invocation's metrics would ever reach CloudWatch. Names, units and dimension sets are the ones
``handlers.business_metrics`` declares; a metric recorded with other dimensions is a bug,
refused with ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

from aws_lambda_powertools.metrics import EphemeralMetrics

from handlers import settings
from handlers.business_metrics import NAMESPACE, SHAPES, BusinessMetric, service_name

_Dimensions = tuple[tuple[str, str], ...]


class MetricsBatch:
    """One invocation's metrics, grouped by dimension set until ``flush``."""

    def __init__(self) -> None:
        self._groups: dict[_Dimensions, EphemeralMetrics] = {}

    def add(self, metric: BusinessMetric, value: float, dimensions: _Dimensions) -> None:
        group = self._groups.get(dimensions)
        if group is None:
            group = EphemeralMetrics(namespace=NAMESPACE, service=_service())
            for name, dimension_value in dimensions:
                group.add_dimension(name, dimension_value)
            self._groups[dimensions] = group
        group.add_metric(name=metric.value, unit=SHAPES[metric].unit, value=value)

    def flush(self) -> None:
        groups, self._groups = self._groups, {}
        for group in groups.values():
            group.flush_metrics()


_current: ContextVar[MetricsBatch | None] = ContextVar("dofs_metrics_batch", default=None)


def _validate_dimensions(metric: BusinessMetric, dimensions: dict[str, str]) -> _Dimensions:
    declared = SHAPES[metric].extra_dimensions
    if set(dimensions) != set(declared):
        raise ValueError(f"{metric.value} takes the dimensions {list(declared)}, got {sorted(dimensions)}")
    return tuple((name, str(dimensions[name])) for name in declared)


def _service() -> str:
    return service_name(settings.require(settings.ENVIRONMENT))


def record(metric: BusinessMetric, value: float = 1, **dimensions: str) -> None:
    """Record ``value`` of ``metric`` with its declared extra dimensions (``service`` is added)."""
    validated = _validate_dimensions(metric, dimensions)
    batch = _current.get()
    if batch is not None:
        batch.add(metric, value, validated)


def record_final(metric: BusinessMetric, created_at: str | None, **dimensions: str) -> None:
    """An order became final: ``metric`` once, and its ``OrderLatency``."""
    record(metric, 1, **dimensions)
    record_order_latency(created_at)


def record_order_latency(created_at: str | None, now: datetime | None = None) -> None:
    """``OrderLatency``: milliseconds from the order's ``created_at`` (when the API answered
    202) to now, the moment it became final. Nothing for an order without a readable one."""
    if not created_at:
        return
    try:
        created = datetime.fromisoformat(created_at)
    except ValueError:
        return
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    elapsed = (now or datetime.now(UTC)) - created
    record(BusinessMetric.ORDER_LATENCY, max(0.0, elapsed.total_seconds() * 1000))


@contextmanager
def published() -> Iterator[None]:
    """Collect the metrics recorded inside, and write them when it ends (even by an error:
    what happened to an order happened, and a replay of it is not counted again)."""
    batch = MetricsBatch()
    token = _current.set(batch)
    try:
        yield
    finally:
        _current.reset(token)
        batch.flush()
