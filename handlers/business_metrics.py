"""The business metrics the handlers publish, in CloudWatch's embedded metric format.

This is the one list that the handlers emit from and that the alarms and the dashboard
read, so a renamed metric or dimension cannot leave an alarm watching nothing.

Every metric carries the ``service`` dimension, whose value is the stack's service name
(``dofs-<stack>``, from ``service_name``), so that one value selects one stack whatever
function emitted it. ``OrdersFailed`` adds ``stage`` (a ``FailureStage`` value) and
``ReconcilerActions`` adds ``action`` (the reconciler's ``Action`` value): those are
emitted with exactly these dimension sets, which an alarm must name in full.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

NAMESPACE = "DOFS"
SERVICE_DIMENSION = "service"
STAGE_DIMENSION = "stage"
ACTION_DIMENSION = "action"


class BusinessMetric(StrEnum):
    ORDERS_ACCEPTED = "OrdersAccepted"  # api_handler: a new order recorded and answered 202 (not a replay)
    ORDERS_REJECTED = "OrdersRejected"  # refused for its content: the edge's 422 or the validator
    ORDERS_FULFILLED = "OrdersFulfilled"  # fulfill_order: the order reached FULFILLED
    ORDERS_FAILED = "OrdersFailed"  # the order reached FULFILLMENT_FAILED, by stage
    FULFILLMENT_ATTEMPTS = "FulfillmentAttempts"  # fulfill_order: one per attempt, success or not
    RECONCILER_ACTIONS = "ReconcilerActions"  # reconciler: one per action taken on an order, by action
    ORDER_LATENCY = "OrderLatency"  # milliseconds from the 202 to the order's final state


class ReconcilerAction(StrEnum):
    """What the reconciler did with an order: the ``action`` dimension of ReconcilerActions.

    Here rather than in ``handlers.reconciler``, which imports boto3, so that the alarms
    and the dashboard read the same values the reconciler emits."""

    STARTED = "started"
    ENQUEUED = "enqueued"
    FAILED = "failed"  # gave up: the order is recorded FULFILLMENT_FAILED
    SKIPPED = "skipped"  # moved on, or claimed by another run, since it was listed
    ERROR = "error"
    DEFERRED = "deferred"  # left for the next run: out of time, or the queue has a backlog


@dataclass(frozen=True)
class MetricShape:
    unit: str
    extra_dimensions: tuple[str, ...] = ()


SHAPES: Mapping[BusinessMetric, MetricShape] = {
    BusinessMetric.ORDERS_ACCEPTED: MetricShape("Count"),
    BusinessMetric.ORDERS_REJECTED: MetricShape("Count"),
    BusinessMetric.ORDERS_FULFILLED: MetricShape("Count"),
    BusinessMetric.ORDERS_FAILED: MetricShape("Count", (STAGE_DIMENSION,)),
    BusinessMetric.FULFILLMENT_ATTEMPTS: MetricShape("Count"),
    BusinessMetric.RECONCILER_ACTIONS: MetricShape("Count", (ACTION_DIMENSION,)),
    BusinessMetric.ORDER_LATENCY: MetricShape("Milliseconds"),
}


def service_name(environment: str) -> str:
    """The ``service`` dimension's value for a stack (``dev`` → ``dofs-dev``)."""
    return f"dofs-{environment}"
