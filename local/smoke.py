"""``python -m local smoke``: the seed's test-api.sh scenarios against any DOFS API.

Works against the local stack (``http://127.0.0.1:8080``) or a deployed stage
(``https://xxx.execute-api.region.amazonaws.com/dev``) with the standard library only.
The stack's ``Pulumi.<stack>.yaml`` predicts the share of orders fulfilled: each
message is tried ``maxReceiveCount`` times, each try succeeding with probability
``fulfillmentSuccessRate``.

Exit status: 0 when every scenario passes, 1 when one fails, 2 for a usage error or
when the API cannot be reached at all.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from components.config import StackConfigError, StackSettings, parse_settings
from handlers.models import OrderStatus, parse_json_decimal
from local.api_key import add_api_key_option, api_key_headers
from local.errors import LocalStackError
from local.pulumi_runner import PROJECT_ROOT, add_config_option, stack_config

PROG = "python -m local smoke"
DONE = frozenset({OrderStatus.FULFILLED, OrderStatus.FULFILLMENT_FAILED})
TERMINAL = DONE | {OrderStatus.REJECTED}
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
REQUEST_TIMEOUT_SECONDS = 10.0
TIMEOUT_SLACK_SECONDS = 30
FIRST_PAUSE, MAX_PAUSE, PAUSE_GROWTH = 0.2, 1.0, 1.5
SUBMIT_ATTEMPTS = 3
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
MIN_TOLERANCE = Decimal("0.05")
MAX_LISTED_IDS = 5


class SmokeUsageError(LocalStackError):
    """The command cannot run as asked (bad option, unknown stack); exit status 2."""


class ApiUnreachableError(LocalStackError):
    """No HTTP answer at all: refused, timed out, unknown host, broken connection."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot reach {url}: {reason}")
        self.url = url
        self.reason = reason


# --- HTTP --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Response:
    status: int
    text: str
    body: Any = None  # the parsed JSON (numbers as Decimal), or None when the body is not JSON

    @classmethod
    def of(cls, status: int, raw: bytes) -> Response:
        text = raw.decode("utf-8", errors="replace")
        try:
            body = parse_json_decimal(text)
        except (ValueError, RecursionError):
            body = None
        return cls(status, text, body)

    @property
    def json_object(self) -> dict[str, Any] | None:
        return self.body if isinstance(self.body, dict) else None

    def describe(self) -> str:
        snippet = " ".join(self.text.split())[:120]
        return f"HTTP {self.status}" + (f" {snippet}" if snippet else "")


def encode_json(value: Any) -> str:
    """JSON with ``Decimal`` written as a JSON number, digit for digit (never through float)."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a JSON number")
        return str(value)
    if isinstance(value, Mapping):
        pairs = (f"{json.dumps(str(key))}:{encode_json(item)}" for key, item in value.items())
        return "{" + ",".join(pairs) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(encode_json(item) for item in value) + "]"
    return json.dumps(value)


class ApiClient:
    """Requests to routes under a base URL, which may carry a stage path and a trailing slash."""

    def __init__(
        self, base_url: str, request_timeout: float = REQUEST_TIMEOUT_SECONDS, api_key: str | None = None
    ) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SmokeUsageError(
                f"--url must be an http(s) URL such as http://127.0.0.1:8080, got {base_url!r}"
            )
        if parts.query or parts.fragment:
            raise SmokeUsageError(f"--url must not have a query or fragment, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.request_timeout = request_timeout
        self.api_key = api_key
        # A proxy configured for the internet must not swallow requests to this machine.
        handlers = [urllib.request.ProxyHandler({})] if parts.hostname in LOOPBACK_HOSTS else []
        self._opener = urllib.request.build_opener(*handlers)

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def get(self, path: str) -> Response:
        return self._send(urllib.request.Request(self.url(path), method="GET", headers=self._headers()))

    def post_json(self, path: str, body: Any, headers: Mapping[str, str] | None = None) -> Response:
        data = encode_json(body).encode("utf-8")
        all_headers = {**self._headers(), "Content-Type": "application/json", **(headers or {})}
        return self._send(
            urllib.request.Request(self.url(path), data=data, method="POST", headers=all_headers)
        )

    def _headers(self) -> dict[str, str]:
        return {"Accept": "application/json", "User-Agent": "dofs-smoke/1", **api_key_headers(self.api_key)}

    def _send(self, request: urllib.request.Request) -> Response:
        try:
            with self._opener.open(request, timeout=self.request_timeout) as answer:
                return Response.of(answer.status, answer.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return Response.of(exc.code, exc.read())
        except urllib.error.URLError as exc:
            raise ApiUnreachableError(request.full_url, str(exc.reason)) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise ApiUnreachableError(request.full_url, str(exc) or type(exc).__name__) from exc


# --- Orders ------------------------------------------------------------------------------------------


def valid_order_body() -> dict[str, Any]:
    """An order the validator accepts; the total is the sum of the lines, to the cent."""
    lines = (("prod_001", 2, Decimal("29.99")), ("prod_002", 1, Decimal("0.10")))
    return {
        "customer_id": f"smoke-{uuid.uuid4().hex[:12]}",
        "items": [{"product_id": product, "quantity": qty, "price": price} for product, qty, price in lines],
        "total_amount": sum((price * qty for _, qty, price in lines), Decimal("0.00")),
        "shipping_address": {"street": "123 Main St", "city": "Anytown", "state": "CA", "zip": "12345"},
    }


def invalid_order_body() -> dict[str, Any]:
    """The seed's invalid order: a valid one without ``customer_id``."""
    body = valid_order_body()
    del body["customer_id"]
    return body


def _pauses() -> Iterator[float]:
    pause = FIRST_PAUSE
    while True:
        yield pause
        pause = min(pause * PAUSE_GROWTH, MAX_PAUSE)


def _sleep_before(deadline: float, pause: float) -> bool:
    """Sleep ``pause`` (cut short by the deadline); False once the deadline has passed."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return False
    time.sleep(min(pause, remaining))
    return True


@dataclass(frozen=True)
class Submission:
    accepted: bool
    order_id: str = ""
    outcome: str = ""  # what came back, for a report


def submit_order(client: ApiClient, body: Mapping[str, Any]) -> Submission:
    """POST the order with a fresh Idempotency-Key, retried with the same key when throttled."""
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    outcome = ""
    for attempt in range(1, SUBMIT_ATTEMPTS + 1):
        try:
            response = client.post_json("/order", body, headers)
        except ApiUnreachableError as exc:
            outcome = exc.reason
        else:
            order_id = (response.json_object or {}).get("order_id")
            if response.status == 202 and isinstance(order_id, str) and order_id:
                return Submission(True, order_id, "HTTP 202")
            outcome = response.describe()
            if response.status not in RETRYABLE_STATUSES:
                break
        if attempt < SUBMIT_ATTEMPTS:
            time.sleep(0.5 * attempt)
    return Submission(False, outcome=outcome)


@dataclass(frozen=True)
class Observation:
    status: OrderStatus | None  # None: no status could be read this time
    seen: str  # the status, or what came back instead


def observe(client: ApiClient, order_id: str) -> Observation:
    try:
        response = client.get(f"/orders/{urllib.parse.quote(order_id, safe='')}")
    except ApiUnreachableError as exc:
        return Observation(None, exc.reason)
    raw = (response.json_object or {}).get("status") if response.status == 200 else None
    if not isinstance(raw, str):
        return Observation(None, response.describe())
    try:
        return Observation(OrderStatus(raw), raw)
    except ValueError:
        return Observation(None, f"unknown status {raw!r}")


def wait_for_terminal(client: ApiClient, order_id: str, deadline: float) -> Observation:
    """Poll until the order is terminal or the deadline passes; the last observation."""
    for pause in _pauses():
        seen = observe(client, order_id)
        if seen.status in TERMINAL or not _sleep_before(deadline, pause):
            return seen
    raise AssertionError("unreachable")  # pragma: no cover - _pauses never ends


# --- Scenarios ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScenarioResult:
    name: str
    passed: bool
    detail: str

    def line(self) -> str:
        return f"{'PASS' if self.passed else 'FAIL'} {self.name}  {self.detail}"


@dataclass(frozen=True)
class Prediction:
    success_rate: Decimal
    max_receive_count: int

    @property
    def fulfilled_share(self) -> Decimal:
        return predicted_fulfilled_share(self.success_rate, self.max_receive_count)


@dataclass(frozen=True)
class SmokePlan:
    orders: int
    timeout: float
    concurrency: int
    prediction: Prediction


def predicted_fulfilled_share(success_rate: Decimal, attempts: int) -> Decimal:
    """The chance that one of ``attempts`` independent tries succeeds: 1 - (1 - p)^k."""
    return 1 - (1 - success_rate) ** attempts


def share_tolerance(predicted: Decimal, count: int) -> Decimal:
    """Four binomial standard deviations of a share over ``count`` orders, at least 5 points."""
    return max(4 * (predicted * (1 - predicted) / count).sqrt(), MIN_TOLERANCE)


def share_within_tolerance(observed: Decimal, predicted: Decimal, count: int) -> bool:
    if predicted in (0, 1):
        return observed == predicted
    return abs(observed - predicted) <= share_tolerance(predicted, count)


def _pct(share: Decimal) -> str:
    return f"{share * 100:.1f}%"


def check_health(client: ApiClient) -> ScenarioResult:
    """GET /health; raises ``ApiUnreachableError`` when nothing answers, so the caller can exit 2."""
    response = client.get("/health")
    body = response.json_object
    if response.status != 200 or body is None:
        return ScenarioResult("health", False, f"{response.describe()}; expected 200 with a JSON body")
    return ScenarioResult("health", True, f"HTTP 200 status={body.get('status', '?')}")


def check_valid_order(client: ApiClient, plan: SmokePlan) -> ScenarioResult:
    started = time.monotonic()
    submission = submit_order(client, valid_order_body())
    if not submission.accepted:
        return ScenarioResult("valid-order", False, f"POST /order: {submission.outcome}; expected 202")
    seen = wait_for_terminal(client, submission.order_id, started + plan.timeout)
    took = f"{time.monotonic() - started:.1f}s"
    if seen.status in DONE:
        return ScenarioResult("valid-order", True, f"{seen.seen} in {took} ({submission.order_id})")
    return ScenarioResult(
        "valid-order", False, f"order {submission.order_id} is {seen.seen} after {took}; expected FULFILLED"
    )


def check_invalid_order(client: ApiClient, plan: SmokePlan) -> ScenarioResult:
    started = time.monotonic()
    try:
        response = client.post_json("/order", invalid_order_body(), {"Idempotency-Key": str(uuid.uuid4())})
    except ApiUnreachableError as exc:
        return ScenarioResult("invalid-order", False, f"POST /order: {exc.reason}")
    body = response.json_object or {}
    if response.status in (400, 422) and response.json_object is not None:
        refusal = f"refused: HTTP {response.status} {body.get('error', '')}".rstrip()
        return ScenarioResult("invalid-order", True, refusal)
    order_id = body.get("order_id")
    if response.status != 202 or not isinstance(order_id, str):
        return ScenarioResult(
            "invalid-order", False, f"{response.describe()}; expected 400 or 422, or 202 then REJECTED"
        )
    seen = wait_for_terminal(client, order_id, started + plan.timeout)
    took = f"{time.monotonic() - started:.1f}s"
    if seen.status is OrderStatus.REJECTED:
        return ScenarioResult("invalid-order", True, f"accepted, then REJECTED in {took} ({order_id})")
    return ScenarioResult(
        "invalid-order", False, f"order {order_id} is {seen.seen} after {took}; expected REJECTED"
    )


def check_not_found(client: ApiClient, plan: SmokePlan) -> ScenarioResult:
    probes = (f"/orders/smoke-missing-{uuid.uuid4().hex}", f"/smoke-no-such-route-{uuid.uuid4().hex[:8]}")
    problems = []
    for path in probes:
        response = client.get(path)
        if response.status != 404 or response.json_object is None:
            problems.append(f"GET {path}: {response.describe()}")
    if problems:
        return ScenarioResult("not-found", False, "; ".join(problems) + "; expected 404 with a JSON body")
    return ScenarioResult("not-found", True, "unknown order and unknown path both 404 with a JSON body")


@dataclass
class BatchOutcome:
    submitted: int
    refused: list[str] = field(default_factory=list)  # what came back for orders not accepted
    final: dict[str, OrderStatus | None] = field(default_factory=dict)  # accepted id -> terminal status
    elapsed: float = 0.0

    def ids_with(self, status: OrderStatus | None) -> list[str]:
        return [order_id for order_id, seen in self.final.items() if seen is status]


def run_batch(client: ApiClient, plan: SmokePlan) -> BatchOutcome:
    """Submit ``plan.orders`` valid orders concurrently, then poll them all until terminal or deadline."""
    started = time.monotonic()
    outcome = BatchOutcome(plan.orders)
    with ThreadPoolExecutor(max_workers=plan.concurrency) as pool:
        bodies = [valid_order_body() for _ in range(plan.orders)]
        for submission in pool.map(lambda body: submit_order(client, body), bodies):
            if submission.accepted:
                outcome.final[submission.order_id] = None
            else:
                outcome.refused.append(submission.outcome)
        _poll_all(client, pool, outcome.final, started + plan.timeout)
    outcome.elapsed = time.monotonic() - started
    return outcome


def _poll_all(
    client: ApiClient, pool: ThreadPoolExecutor, final: dict[str, OrderStatus | None], deadline: float
) -> None:
    for pause in _pauses():
        pending = [order_id for order_id, seen in final.items() if seen is None]
        for order_id, seen in zip(pending, pool.map(lambda oid: observe(client, oid), pending), strict=True):
            if seen.status in TERMINAL:
                final[order_id] = seen.status
        if all(seen is not None for seen in final.values()) or not _sleep_before(deadline, pause):
            return


def judge_batch(outcome: BatchOutcome, prediction: Prediction) -> ScenarioResult:
    accepted = len(outcome.final)
    fulfilled = len(outcome.ids_with(OrderStatus.FULFILLED))
    failed = len(outcome.ids_with(OrderStatus.FULFILLMENT_FAILED))
    predicted = prediction.fulfilled_share
    counts = f"accepted {accepted}/{outcome.submitted}, fulfilled {fulfilled}, failed {failed}"
    if accepted == 0:
        return ScenarioResult("batch", False, f"{counts}; no order accepted ({_first(outcome.refused)})")
    observed = Decimal(fulfilled) / accepted
    shares = (
        f"observed {_pct(observed)} fulfilled / {_pct(Decimal(failed) / accepted)} failed, "
        f"predicted {_pct(predicted)} / {_pct(1 - predicted)} "
        f"(±{_pct(share_tolerance(predicted, accepted))}), {outcome.elapsed:.1f}s"
    )
    problem = _batch_problem(outcome, observed, predicted)
    return ScenarioResult(
        "batch", problem is None, f"{counts}, {shares}" + (f"; {problem}" if problem else "")
    )


def _batch_problem(outcome: BatchOutcome, observed: Decimal, predicted: Decimal) -> str | None:
    stuck = outcome.ids_with(None)
    rejected = outcome.ids_with(OrderStatus.REJECTED)
    if outcome.refused:
        return f"{len(outcome.refused)} not accepted ({_first(outcome.refused)})"
    if stuck:
        return f"{len(stuck)} not terminal by the deadline: {_listed(stuck)}"
    if rejected:
        return f"{len(rejected)} valid orders REJECTED: {_listed(rejected)}"
    if not share_within_tolerance(observed, predicted, len(outcome.final)):
        return "fulfilled share outside the predicted tolerance"
    return None


def _first(outcomes: list[str]) -> str:
    return outcomes[0] if outcomes else "no answer"


def _listed(ids: list[str]) -> str:
    more = len(ids) - MAX_LISTED_IDS
    return ", ".join(ids[:MAX_LISTED_IDS]) + (f" (+{more} more)" if more > 0 else "")


def check_batch(client: ApiClient, plan: SmokePlan) -> ScenarioResult:
    return judge_batch(run_batch(client, plan), plan.prediction)


Scenario = Callable[[ApiClient, SmokePlan], ScenarioResult]
SCENARIOS: tuple[tuple[str, Scenario], ...] = (
    ("valid-order", check_valid_order),
    ("invalid-order", check_invalid_order),
    ("not-found", check_not_found),
    ("batch", check_batch),
)


def run_scenarios(client: ApiClient, plan: SmokePlan) -> list[ScenarioResult]:
    """Every scenario in order, each line printed as it completes.

    ``ApiUnreachableError`` from the first request (health) propagates; later it fails one scenario.
    """
    results = [check_health(client)]
    print(results[0].line(), flush=True)
    for name, scenario in SCENARIOS:
        try:
            result = scenario(client, plan)
        except ApiUnreachableError as exc:
            result = ScenarioResult(name, False, str(exc))
        print(result.line(), flush=True)
        results.append(result)
    return results


# --- Configuration and command line -----------------------------------------------------------------


def load_stack_settings(
    stack: str, root: Path = PROJECT_ROOT, overrides: Mapping[str, str] | None = None
) -> StackSettings:
    """The settings of ``Pulumi.<stack>.yaml`` (plus ``overrides``), checked as the program checks them."""
    try:
        return parse_settings({**stack_config(stack, root), **(overrides or {})}, stack)
    except LocalStackError as exc:
        raise SmokeUsageError(str(exc)) from None
    except (yaml.YAMLError, AttributeError) as exc:
        reason = " ".join(str(exc).split())
        raise SmokeUsageError(f"Pulumi.{stack}.yaml is not a Pulumi stack file: {reason}") from None
    except StackConfigError as exc:
        raise SmokeUsageError(f"Pulumi.{stack}.yaml: {exc}") from None


def default_timeout(settings: StackSettings) -> float:
    """The longest an order can take: every receive waits out the queue's visibility, plus slack."""
    visibility = settings.queue_visibility_seconds(settings.fulfill_timeout_seconds)
    return float(settings.max_receive_count * visibility + TIMEOUT_SLACK_SECONDS)


def _positive(kind: Callable[[str], int | float]) -> Callable[[str], Any]:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Run the DOFS smoke scenarios against a local or deployed API."
    )
    parser.add_argument("--url", required=True, help="base URL: http://127.0.0.1:8080 or the stack's api_url")
    parser.add_argument("--stack", default="dev", help="stack whose Pulumi.<stack>.yaml predicts the outcome")
    add_config_option(
        parser, "a setting the deployment runs with on top of the stack file (as given to `run --config`)"
    )
    parser.add_argument("--orders", type=_positive(int), default=40, metavar="N", help="batch size (40)")
    parser.add_argument(
        "--timeout",
        type=_positive(float),
        metavar="SECONDS",
        help="how long an order may take (default: maxReceiveCount x queue visibility + 30 s)",
    )
    parser.add_argument(
        "--concurrency", type=_positive(int), default=8, metavar="THREADS", help="client threads (8)"
    )
    add_api_key_option(parser)
    return parser


def _plan(args: argparse.Namespace) -> tuple[ApiClient, SmokePlan]:
    settings = load_stack_settings(args.stack, overrides=dict(args.config))
    client = ApiClient(args.url, api_key=args.api_key)
    timeout = args.timeout if args.timeout is not None else default_timeout(settings)
    prediction = Prediction(settings.fulfillment_success_rate, settings.max_receive_count)
    return client, SmokePlan(args.orders, timeout, args.concurrency, prediction)


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse has printed the usage error (or --help)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        client, plan = _plan(args)
        results = run_scenarios(client, plan)
    except SmokeUsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except ApiUnreachableError as exc:
        print(f"{PROG}: error: cannot reach {args.url}: {exc.reason}", file=sys.stderr)
        return 2
    failed = sum(not result.passed for result in results)
    verdict = "OK" if failed == 0 else "FAILED"
    where = f"{client.base_url} (stack {args.stack})"
    print(f"{verdict}: {len(results) - failed} passed, {failed} failed against {where}")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
