"""EventBridge schedules, run on this machine.

For each enabled rule in the emulator with a ``rate(...)`` schedule, and each of its
targets that is a Lambda function, one thread invokes the function through the
emulator's Lambda API once per interval, with the document EventBridge sends (a
"Scheduled Event"), or the target's constant ``Input``. A failing function is reported
in one line and the schedule goes on, as on AWS. Rules with an event pattern are not
served: the emulator emits no events for them to match.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.client import BaseClient

from local.errors import LocalStackError
from local.lambda_runtime import Invoked, invoke_function

logger = logging.getLogger("dofs.local.scheduler")

RATE = re.compile(r"rate\(\s*(?P<value>\d+)\s+(?P<unit>minutes?|hours?|days?)\s*\)")
UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
LAMBDA_FUNCTION_ARN = re.compile(r"arn:aws[\w-]*:lambda:[^:]+:\d+:function:[^:]+(:[^:]+)?")


def rate_seconds(expression: str, rule_name: str) -> int:
    """The interval of ``rate(N unit)``, as EventBridge accepts it (``1 minute``, ``5 minutes``)."""
    expression = expression.strip()
    if expression.startswith("cron("):
        raise LocalStackError(
            f"rule {rule_name}: {expression} is a cron schedule, which the local stack does not run; "
            "use rate(N minutes|hours|days)"
        )
    match = RATE.fullmatch(expression)
    if match is None:
        raise LocalStackError(
            f"rule {rule_name}: {expression!r} is not a schedule the local stack runs; "
            "expected rate(N minute|minutes|hour|hours|day|days)"
        )
    value, unit = int(match["value"]), match["unit"]
    singular = unit.removesuffix("s")
    if value < 1:
        raise LocalStackError(f"rule {rule_name}: {expression}: the rate must be at least 1")
    if (value == 1) != (unit == singular):  # EventBridge refuses "rate(1 minutes)" and "rate(5 minute)"
        wanted = singular if value == 1 else f"{singular}s"
        raise LocalStackError(f"rule {rule_name}: {expression}: EventBridge expects {value} {wanted}")
    return value * UNIT_SECONDS[singular]


@dataclass(frozen=True)
class Schedule:
    rule_name: str
    rule_arn: str
    target_id: str
    function_arn: str
    interval_seconds: float
    constant_input: str | None = None  # the target's Input, sent instead of the event

    @property
    def function_name(self) -> str:
        return self.function_arn.split(":")[6]

    @property
    def target_resource_id(self) -> str:
        """The id the emulator mocks give the target's resource: ``<rule>-<target id>``."""
        return f"{self.rule_name}-{self.target_id}"


def _paged(client: BaseClient, operation: str, key: str, **arguments: Any) -> Iterator[dict[str, Any]]:
    for page in client.get_paginator(operation).paginate(**arguments):
        yield from page[key]


def schedules_in(events: BaseClient, every_seconds: float | None = None) -> list[Schedule]:
    """The schedules the emulator holds; ``every_seconds`` replaces every rule's interval."""
    schedules = []
    for rule in _paged(events, "list_rules", "Rules"):
        expression = rule.get("ScheduleExpression")
        if not expression or rule.get("State") != "ENABLED":
            continue
        interval = rate_seconds(expression, rule["Name"])  # checked even when overridden
        for target in _paged(events, "list_targets_by_rule", "Targets", Rule=rule["Name"]):
            if not LAMBDA_FUNCTION_ARN.fullmatch(target["Arn"]):
                continue
            if target.get("InputPath") or target.get("InputTransformer"):
                raise LocalStackError(
                    f"rule {rule['Name']}, target {target['Id']}: the local stack sends a scheduled "
                    "function the event or a constant Input, not InputPath or InputTransformer"
                )
            schedules.append(
                Schedule(
                    rule_name=rule["Name"],
                    rule_arn=rule["Arn"],
                    target_id=target["Id"],
                    function_arn=target["Arn"],
                    interval_seconds=every_seconds if every_seconds is not None else interval,
                    constant_input=target.get("Input") or None,
                )
            )
    return schedules


def scheduled_event(schedule: Schedule, now: datetime | None = None) -> dict[str, Any]:
    """What EventBridge hands a target of a schedule rule."""
    _, _, _, region, account, _ = schedule.rule_arn.split(":", 5)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [schedule.rule_arn],
        "detail": {},
    }


class ScheduledInvoker(threading.Thread):
    """Invokes one schedule's function every interval, until ``stop()``."""

    def __init__(self, schedule: Schedule, *, lambda_client: BaseClient) -> None:
        super().__init__(name=f"schedule-{schedule.rule_name}-{schedule.target_id}", daemon=True)
        self.schedule = schedule
        self.lambda_client = lambda_client
        self._stop_requested = threading.Event()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the schedule; an invocation under way is finished first, as far as ``timeout``."""
        self._stop_requested.set()
        self.join(timeout)

    def run(self) -> None:
        # Like EventBridge, the first run is one interval after the rule exists; a run
        # that outlasts the interval delays the next one rather than overlapping it.
        interval = self.schedule.interval_seconds
        next_run = time.monotonic() + interval
        while not self._stop_requested.wait(max(0.0, next_run - time.monotonic())):
            self.fire()
            next_run = max(next_run + interval, time.monotonic())

    def fire(self) -> Invoked | None:
        """One scheduled invocation; None when the function could not be invoked at all."""
        schedule = self.schedule
        try:
            event: Any = scheduled_event(schedule)
            if schedule.constant_input is not None:
                event = json.loads(schedule.constant_input)
            invoked = invoke_function(self.lambda_client, schedule.function_arn, event)
        except Exception:  # keep the schedule, as EventBridge does, but never silently
            logger.exception("schedule %s could not invoke %s", schedule.rule_name, schedule.function_name)
            return None
        if invoked.failed:
            logger.warning(
                "%s failed on schedule %s (%s); it runs again in %g s",
                schedule.function_name,
                schedule.rule_name,
                invoked.error_type,
                schedule.interval_seconds,
            )
        return invoked
