"""One measured run: the local stack with the chosen stack's settings, orders through it,
then each schedule's function run on its own, all counted by the ``Meter``.

The stack runs with fast retries (``dofs:fulfillTimeoutSeconds=1``: SQS redelivers after
6 s) and no faults; its schedules do not fire by themselves during the orders, so the
scheduled work (a fixed cost per month, not per order) is measured apart, on a quiet stack.
"""

from __future__ import annotations

import contextlib
import random
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from botocore.config import Config

from benchmarks.cost.errors import MeasurementError
from benchmarks.cost.init_phase import init_milliseconds
from benchmarks.cost.logs import LambdaLogConfig
from benchmarks.cost.measurement import (
    FunctionSetup,
    FunctionUsage,
    Measurement,
    SamplingRule,
    ScheduledWork,
    Window,
    WorkflowSetup,
    WorkflowUsage,
)
from benchmarks.cost.meter import OBSERVER_AGENT, Meter
from benchmarks.cost.tally import Tally
from benchmarks.cost.workflow import executions_since
from benchmarks.soak import ApiClient, Emulator, wait_until_quiet
from components.config import parse_settings
from handlers.models import TERMINAL_STATUSES
from local.api_key import first_api_key
from local.pulumi_runner import stack_config
from local.scheduler import schedules_in
from local.smoke import encode_json, valid_order_body
from local.stack import LocalStack, LocalStackOptions

FAST_RETRIES = {"dofs:fulfillTimeoutSeconds": "1"}
NEVER_SECONDS = 10.0**6  # schedules wait this long: they are fired on purpose instead
MONTH_SECONDS = Decimal(30 * 86400)
STOP_WAIT_SECONDS = 30.0
OBSERVER_CONFIG = Config(user_agent_extra=OBSERVER_AGENT)
SAMPLING_RULE = "aws:xray/samplingRule:SamplingRule"


@dataclass(frozen=True)
class CostOptions:
    stack: str = "dev"
    orders: int = 500
    rejected_share: Decimal = Decimal("0.1")
    clients: int = 1
    seed: int = 1
    config: Mapping[str, str] = field(default_factory=dict)
    scheduled_runs: int = 3
    init_samples: int = 3
    cold_start_every: int = 100
    settle_timeout_seconds: float = 600.0


class _ObserverEmulator(Emulator):
    """The soak's reads of the emulator, from clients the meter does not count."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.dynamodb = stack.client("dynamodb", OBSERVER_CONFIG)
        self.sqs = stack.client("sqs", OBSERVER_CONFIG)
        self.stepfunctions = stack.client("stepfunctions", OBSERVER_CONFIG)


def order_bodies(options: CostOptions) -> list[bytes]:
    """The mix: valid orders, and a share whose total is not the sum of its lines (the
    workflow rejects them). Fulfillment failures come from the stack's success rate."""
    rng = random.Random(options.seed)
    rejected = set(rng.sample(range(options.orders), round(options.orders * options.rejected_share)))
    bodies = []
    for index in range(options.orders):
        order = {**valid_order_body(), "customer_id": f"cust_cost_{index}"}
        if index in rejected:
            order["total_amount"] += Decimal("0.10")
        bodies.append(encode_json(order).encode())
    return bodies


class CostSession:
    """``with CostSession(options) as session: measurement = session.measure()``."""

    def __init__(self, options: CostOptions) -> None:
        self.options = options
        self.meter = Meter()
        self.stack = LocalStack(
            LocalStackOptions(
                stack=options.stack,
                api_port=0,
                aws_port=0,
                config={**FAST_RETRIES, **options.config},
                schedule_every_seconds=NEVER_SECONDS,
            )
        )
        self._running = contextlib.ExitStack()
        self._init_ms: dict[str, int] = {}

    def __enter__(self) -> CostSession:
        self._running.enter_context(self.meter)  # before the stack: it wraps the meter's hooks in its locks
        self._running.enter_context(self.stack)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._running.close()

    def client(self, service: str) -> Any:
        return self.stack.client(service, OBSERVER_CONFIG)

    # -- the run -----------------------------------------------------------------------

    def measure(self) -> Measurement:
        setups = self._function_setups()
        workflow = self._workflow_setup()
        orders, outcomes, accepted = self._measure_orders(setups, workflow)
        settings = parse_settings(
            {**stack_config(self.options.stack), **self.options.config}, self.options.stack
        )
        return Measurement(
            stack=self.options.stack,
            region=self.stack.region,
            orders=orders,
            outcomes=outcomes,
            accepted=accepted,
            scheduled=tuple(self._measure_schedules(setups, workflow)),
            event_source_mappings=self._event_source_mappings(),
            log_retention_days=self._log_retention_days(),
            default_log_retention_days=settings.log_retention_days,
            sampling=self._sampling_rule(),
            cold_start_every=self.options.cold_start_every,
        )

    def _measure_orders(
        self, setups: dict[str, FunctionSetup], workflow: WorkflowSetup
    ) -> tuple[Window, Counter[str], int]:
        client, emulator = (
            ApiClient(self.stack.api_url, first_api_key(self.stack.outputs)),
            _ObserverEmulator(self.stack),
        )
        bodies = order_bodies(self.options)
        started_at, started = datetime.now(UTC), time.monotonic()
        with self.meter.recording() as tally:
            with ThreadPoolExecutor(self.options.clients) as pool:
                answers = list(pool.map(lambda body: client.post(body, f"cost-{uuid.uuid4()}"), bodies))
            accepted = {a.body["order_id"] for a in answers if a.status == 202}
            final = wait_until_quiet(
                emulator, accepted, time.monotonic() + self.options.settle_timeout_seconds
            )
            wall = time.monotonic() - started
        stuck = [i for i in accepted if final.get(i, {}).get("status") not in TERMINAL_STATUSES]
        if stuck:
            raise MeasurementError(
                f"{len(stuck)} of {len(accepted)} accepted orders were not final after "
                f"{self.options.settle_timeout_seconds:g} s (e.g. {stuck[0]}): the counts would be incomplete"
            )
        outcomes = Counter(str(final[i]["status"]) for i in accepted)
        refused = Counter(a.status for a in answers if a.status != 202)
        if refused:
            raise MeasurementError(f"the API refused orders of the mix: {dict(refused)}")
        window = self._window(
            tally, units=len(bodies), setups=setups, workflow=workflow, started_at=started_at, wall=wall
        )
        return window, outcomes, len(accepted)

    def _measure_schedules(
        self, setups: dict[str, FunctionSetup], workflow: WorkflowSetup
    ) -> Iterator[ScheduledWork]:
        intervals = {s.rule_name: s.interval_seconds for s in schedules_in(self.client("events"))}
        for invoker in self.stack.schedules:
            schedule = invoker.schedule
            started_at, started = datetime.now(UTC), time.monotonic()
            with self.meter.recording() as tally:
                for _ in range(self.options.scheduled_runs):
                    invoker.fire()
                wall = time.monotonic() - started
            window = self._window(
                tally,
                units=self.options.scheduled_runs,
                setups=setups,
                workflow=workflow,
                started_at=started_at,
                wall=wall,
            )
            runs_per_month = MONTH_SECONDS / Decimal(str(intervals[schedule.rule_name]))
            yield ScheduledWork(schedule.function_name, runs_per_month, window)

    def _window(
        self,
        tally: Tally,
        *,
        units: int,
        setups: dict[str, FunctionSetup],
        workflow: WorkflowSetup,
        started_at: datetime,
        wall: float,
    ) -> Window:
        functions = tuple(
            FunctionUsage.of(setups[name], counts) for name, counts in sorted(tally.functions.items())
        )
        records = self._finished_executions(workflow.arn, started_at)
        starts = tally.requests[("stepfunctions", "StartExecution")]
        return Window(
            units=units,
            functions=functions,
            workflow=WorkflowUsage.of(workflow, records, starts),
            tally=tally,
            api_traced=self._api_traced(),
            wall_seconds=wall,
        )

    def _finished_executions(self, arn: str, since: datetime) -> list[Any]:
        deadline = time.monotonic() + STOP_WAIT_SECONDS
        while True:
            records = executions_since(self.stack.region, arn, since)
            running = [r.arn for r in records if r.stopped is None]
            if not running:
                return records
            if time.monotonic() > deadline:
                raise MeasurementError(f"{len(running)} executions still running, e.g. {running[0]}")
            time.sleep(0.2)

    # -- the stack as deployed ---------------------------------------------------------

    def _declared_inputs(self, typ: str) -> list[dict[str, Any]]:
        return [resource.inputs for resource in self.stack.declared(typ)]

    def _function_setups(self) -> dict[str, FunctionSetup]:
        declared = {i["name"]: i for i in self._declared_inputs("aws:lambda/function:Function")}
        setups = {}
        for function in self.client("lambda").list_functions()["Functions"]:
            name = function["FunctionName"]
            logging = function.get("LoggingConfig") or declared.get(name, {}).get("loggingConfig")
            environment = {
                "AWS_REGION": self.stack.region,
                **function.get("Environment", {}).get("Variables", {}),
            }
            setups[name] = FunctionSetup(
                name=name,
                memory_mb=int(function["MemorySize"]),
                traced=(function.get("TracingConfig") or {}).get("Mode") == "Active",
                log=LambdaLogConfig.of(name, logging),
                init_ms=self._init_milliseconds(function["Handler"], environment),
            )
        return setups

    def _init_milliseconds(self, handler: str, environment: Mapping[str, str]) -> int:
        """Measured once per handler: functions that share one share its imports."""
        if handler not in self._init_ms:
            self._init_ms[handler] = init_milliseconds(handler, environment, self.options.init_samples)
        return self._init_ms[handler]

    def _workflow_setup(self) -> WorkflowSetup:
        arn = str(self.stack.outputs["state_machine_arn"])
        described = self.client("stepfunctions").describe_state_machine(stateMachineArn=arn)
        (declared,) = self._declared_inputs("aws:sfn/stateMachine:StateMachine")
        logging = declared.get("loggingConfiguration") or described.get("loggingConfiguration") or {}
        destination = str(logging.get("logDestination") or "")
        return WorkflowSetup(
            arn=arn,
            workflow_type=str(described.get("type", "STANDARD")),
            definition_bytes=len(str(described["definition"]).encode("utf-8")),
            log_group=destination.partition(":log-group:")[2].removesuffix(":*") or "(no log group)",
            log_level=str(logging.get("level", "OFF")),
            include_data=bool(logging.get("includeExecutionData")),
            traced=bool((declared.get("tracingConfiguration") or {}).get("enabled")),
        )

    def _log_retention_days(self) -> dict[str, int]:
        groups = self._declared_inputs("aws:cloudwatch/logGroup:LogGroup")
        return {str(g["name"]): int(g["retentionInDays"]) for g in groups if g.get("retentionInDays")}

    def _api_traced(self) -> bool:
        return any(
            bool(s.get("xrayTracingEnabled")) for s in self._declared_inputs("aws:apigateway/stage:Stage")
        )

    def _event_source_mappings(self) -> int:
        mappings = self.client("lambda").list_event_source_mappings()["EventSourceMappings"]
        return sum(1 for m in mappings if m.get("State") != "Disabled")

    def _sampling_rule(self) -> SamplingRule:
        """The program's own sampling rule with the highest fixed rate, or X-Ray's default."""
        rules = self._declared_inputs(SAMPLING_RULE)
        if not rules:
            return SamplingRule()
        rule = max(rules, key=lambda r: Decimal(str(r.get("fixedRate", 0))))
        return SamplingRule(
            reservoir_per_second=Decimal(str(rule.get("reservoirSize", 0))),
            fixed_rate=Decimal(str(rule.get("fixedRate", 0))),
            source=f"the program's sampling rule {rule.get('ruleName', '')}".strip(),
        )
