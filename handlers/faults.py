"""Fault injection for local runs and tests; refused on AWS Lambda.

A fault plan is a JSON document in the ``DOFS_FAULTS`` environment variable::

    {"seed": 7, "rates": {"validator": 0.1, "dynamodb_throttle": 0.05}}

Each rate is the probability that the fault fires each time its point is reached. The
Pulumi program never sets the variable; the local stack sets it from ``--fault``
options, and a function that finds it on AWS Lambda (where ``AWS_EXECUTION_ENV`` is
always set) refuses to run. The hooks that make AWS calls fail live with the clients, in
``handlers.aws``: this module stays free of botocore, which the validator never loads.
"""

from __future__ import annotations

import functools
import json
import math
import os
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from handlers.errors import ConfigurationError, DofsError, TransientStorageError
from handlers.parsing import field_name, is_integer, unknown_fields

DOFS_FAULTS = "DOFS_FAULTS"
AWS_EXECUTION_ENV = "AWS_EXECUTION_ENV"


class FaultPoint(StrEnum):
    # A transient error (TransientStorageError) as the step starts.
    API_HANDLER = "api_handler"
    VALIDATOR = "validator"
    ORDER_STORAGE = "order_storage"
    FULFILL_ORDER = "fulfill_order"
    DLQ_PROCESSOR = "dlq_processor"
    RECONCILER = "reconciler"
    # A DynamoDB call from a handler is throttled (ProvisionedThroughputExceededException).
    DYNAMODB_THROTTLE = "dynamodb_throttle"
    # The API's StartExecution is refused (ServiceUnavailable) after the order is recorded.
    WORKFLOW_START = "workflow_start"
    # An SQS consumer crashes after its table writes, before the poller hears back.
    CRASH_BEFORE_ACK = "crash_before_ack"
    # Served by the local stack, not by the handlers: the poller hands one batch to two
    # concurrent invocations; the workflow's SendMessage to the order queue is refused; an
    # EXPRESS execution runs twice (at least once, as AWS runs asynchronous EXPRESS).
    DUPLICATE_DELIVERY = "duplicate_delivery"
    ENQUEUE = "enqueue"
    DUPLICATE_EXECUTION = "duplicate_execution"


FAULT_POINT_VALUES = tuple(point.value for point in FaultPoint)


class InjectedCrashError(DofsError):
    """A simulated crash of the function: the whole invocation fails."""


FAULT_PLAN_FIELDS = ("seed", "rates")


def _rate_problems(rates: Any) -> list[str]:
    if not isinstance(rates, Mapping):
        return ["rates: must be an object of fault points and rates"]
    problems = []
    for point, rate in rates.items():
        if point not in FAULT_POINT_VALUES:
            problems.append(f"rates.{field_name(str(point))}: is not one of {', '.join(FAULT_POINT_VALUES)}")
        elif not isinstance(rate, int | float) or isinstance(rate, bool) or not math.isfinite(rate):
            problems.append(f"rates.{point}: must be a number")
        elif not 0 <= rate <= 1:
            problems.append(f"rates.{point}: must be from 0 to 1, got {rate}")
    return problems


def _seed_problems(seed: Any) -> list[str]:
    if seed is None or is_integer(seed):
        return []
    return ["seed: must be an integer or null"]


def _not_a_plan(problems: str) -> ConfigurationError:
    return ConfigurationError(f"environment variable {DOFS_FAULTS} is not a fault plan: {problems}")


@dataclass(frozen=True)
class FaultPlan:
    """How often each fault point fails; a point not named never does."""

    seed: int | None = None
    rates: Mapping[FaultPoint, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = _seed_problems(self.seed) + _rate_problems(self.rates)
        if problems:
            raise ValueError("; ".join(problems))
        object.__setattr__(self, "rates", {FaultPoint(p): float(r) for p, r in self.rates.items()})

    def rate(self, point: FaultPoint) -> float:
        return self.rates.get(point, 0.0)

    @classmethod
    def parse(cls, raw: str) -> FaultPlan:
        """The plan ``to_json`` wrote; a ``ConfigurationError`` naming the variable for anything else."""
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise _not_a_plan(f"not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise _not_a_plan("must be a JSON object")
        problems = unknown_fields(data, FAULT_PLAN_FIELDS) + _seed_problems(data.get("seed"))
        problems += _rate_problems(data.get("rates", {}))
        if problems:
            raise _not_a_plan("; ".join(problems))
        return cls(seed=data.get("seed"), rates=data.get("rates", {}))

    def to_json(self) -> str:
        rates = {point.value: rate for point, rate in self.rates.items()}
        return json.dumps({"seed": self.seed, "rates": rates}, separators=(",", ":"))


class FaultInjector:
    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self._rng = random.Random(plan.seed)
        self._lock = threading.Lock()

    def fires(self, point: FaultPoint) -> bool:
        rate = self.plan.rate(point)
        if rate <= 0.0:
            return False
        with self._lock:
            return self._rng.random() < rate


@functools.lru_cache(maxsize=8)
def _injector_for(raw: str) -> FaultInjector:
    return FaultInjector(FaultPlan.parse(raw))


def active_injector() -> FaultInjector | None:
    """The injector of this function's plan, or None when no faults are configured."""
    raw = os.environ.get(DOFS_FAULTS, "").strip()
    if not raw:
        return None
    if os.environ.get(AWS_EXECUTION_ENV):
        raise ConfigurationError(
            f"environment variable {DOFS_FAULTS} is set on AWS Lambda; fault injection is for local runs only"
        )
    return _injector_for(raw)


def fires(point: FaultPoint) -> bool:
    injector = active_injector()
    return injector is not None and injector.fires(point)


def inject_transient(point: FaultPoint) -> None:
    """Raise a transient error at ``point`` when the plan says so."""
    if fires(point):
        raise TransientStorageError(f"injected fault at {point.value}")


def inject_crash(point: FaultPoint) -> None:
    if fires(point):
        raise InjectedCrashError(f"injected crash at {point.value}")
