"""``python -m local smoke`` against a small fake order API served over real HTTP."""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

import pytest

from handlers.models import OrderStatus, parse_json_decimal
from local import smoke

DEV_PREDICTED = Decimal("0.973")  # Pulumi.dev.yaml: success rate 0.7, 3 receives


@dataclass
class FakeOrder:
    outcome: OrderStatus | None  # None: never leaves RECEIVED
    polls: int = 0


@dataclass
class FakeApi:
    """The order API as the smoke command sees it, under a stage path like a deployed one.

    Valid orders end FULFILLED at ``fulfilled_share`` (spread evenly, in arrival order) and
    FULFILLMENT_FAILED otherwise, after ``polls_before_terminal`` reads that say RECEIVED.
    """

    stage: str = "/dev"
    health_status: int = 200
    fulfilled_share: Decimal = Decimal(1)
    settles: bool = True
    refuse_invalid: bool = True
    reject_invalid: bool = True
    unknown_path_status: int = 404
    polls_before_terminal: int = 1
    api_key: str | None = None  # a key every route but /health requires, as dofs:apiAuth api_key does
    url: str = ""
    orders: dict[str, FakeOrder] = field(default_factory=dict)
    valid_count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _valid_outcome(self) -> OrderStatus | None:
        if not self.settles:
            return None
        index, self.valid_count = self.valid_count, self.valid_count + 1
        share = self.fulfilled_share
        fulfilled = int((index + 1) * share) > int(index * share)
        return OrderStatus.FULFILLED if fulfilled else OrderStatus.FULFILLMENT_FAILED

    def create(self, order: Any) -> tuple[int, dict[str, Any]]:
        if not isinstance(order, dict) or order.get("total_amount") != _line_total(order):
            return 400, {"error": "invalid_order", "message": "total does not match, or money not exact"}
        invalid = "customer_id" not in order
        if invalid and self.refuse_invalid:
            return 400, {"error": "invalid_order", "message": "customer_id: is required"}
        with self.lock:
            rejected = OrderStatus.REJECTED if self.reject_invalid else None
            outcome = rejected if invalid else self._valid_outcome()
            order_id = str(uuid.uuid4())
            self.orders[order_id] = FakeOrder(outcome)
        return 202, {"order_id": order_id, "status": "RECEIVED"}

    def status(self, order_id: str) -> tuple[int, dict[str, Any]]:
        with self.lock:
            order = self.orders.get(order_id)
            if order is None:
                return 404, {"error": "order_not_found", "order_id": order_id}
            order.polls += 1
            settled = order.outcome is not None and order.polls > self.polls_before_terminal
            status = order.outcome if settled else OrderStatus.RECEIVED
        return 200, {"order_id": order_id, "status": str(status)}


def _line_total(order: dict[str, Any]) -> Decimal | None:
    try:
        return sum((line["price"] * line["quantity"] for line in order["items"]), Decimal(0))
    except (KeyError, TypeError):
        return None


class FakeServer(ThreadingHTTPServer):
    request_queue_size = 64  # the default 5 drops concurrent connects, which then retry after 1 s

    def __init__(self, api: FakeApi) -> None:
        super().__init__(("127.0.0.1", 0), FakeHandler)
        self.api = api


class FakeHandler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    @property
    def api(self) -> FakeApi:
        return cast(FakeServer, self.server).api

    def _reply(self, status: int, body: Any = None, text: str = "") -> None:
        data = json.dumps(body).encode() if body is not None else text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if body is not None else "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self) -> str | None:
        if not self.path.startswith(self.api.stage + "/"):
            return None
        return self.path.removeprefix(self.api.stage)

    def _refused_key(self) -> bool:
        if self.api.api_key is None or self.headers.get("x-api-key") == self.api.api_key:
            return False
        self._reply(403, {"error": "invalid_api_key", "message": "a valid API key is required"})
        return True

    def do_GET(self) -> None:
        route = self._route()
        if route != "/health" and self._refused_key():
            return
        if route == "/health":
            self._reply(self.api.health_status, {"status": "healthy"})
        elif route is not None and route.startswith("/orders/"):
            self._reply(*self.api.status(route.removeprefix("/orders/")))
        elif self.api.unknown_path_status == 404:
            self._reply(404, {"error": "not_found", "message": f"no route for {self.path}"})
        else:
            self._reply(self.api.unknown_path_status, text="<html>Missing Authentication Token</html>")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self._refused_key():
            return
        if self._route() != "/order" or self.headers.get("Content-Type") != "application/json":
            self._reply(404, {"error": "not_found"})
        elif not self.headers.get("Idempotency-Key"):
            self._reply(400, {"error": "missing_idempotency_key"})
        else:
            self._reply(*self.api.create(parse_json_decimal(body)))


StartFake = Callable[..., FakeApi]


@pytest.fixture
def fake_api() -> Iterator[StartFake]:
    servers: list[tuple[FakeServer, threading.Thread]] = []

    def start(**options: Any) -> FakeApi:
        api = FakeApi(**options)
        server = FakeServer(api)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        servers.append((server, thread))
        api.url = f"http://127.0.0.1:{server.server_address[1]}{api.stage}"
        return api

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=2)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, str], list[str], str]:
    """Exit code, verdict per scenario, the scenario lines, and stderr."""
    code = smoke.main(list(argv))
    captured = capsys.readouterr()
    lines = [line for line in captured.out.splitlines() if line.startswith(("PASS ", "FAIL "))]
    verdicts = {line.split()[1]: line.split()[0] for line in lines}
    return code, verdicts, lines, captured.err


def line_of(lines: list[str], name: str) -> str:
    return next(line for line in lines if line.split()[1] == name)


ALL_PASS = {name: "PASS" for name in ("health", "valid-order", "invalid-order", "not-found", "batch")}


# --- The command against fakes -----------------------------------------------------------------------


def test_correct_api_passes_every_scenario(fake_api: StartFake, capsys: pytest.CaptureFixture[str]) -> None:
    api = fake_api()
    code, verdicts, lines, err = run(capsys, "--url", api.url + "/", "--orders", "12", "--timeout", "5")

    assert code == 0, lines
    assert verdicts == ALL_PASS
    assert list(verdicts) == list(ALL_PASS), "scenarios run in the seed's order"
    assert "FULFILLED in" in line_of(lines, "valid-order")
    assert "refused: HTTP 400 invalid_order" in line_of(lines, "invalid-order")
    batch = line_of(lines, "batch")
    assert "accepted 12/12, fulfilled 12, failed 0" in batch
    assert "observed 100.0% fulfilled / 0.0% failed, predicted 97.3% / 2.7%" in batch
    assert err == ""


@pytest.mark.parametrize("via", ["option", "environment"])
def test_the_api_key_from_the_option_or_the_environment_is_sent(
    fake_api: StartFake, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, via: str
) -> None:
    api = fake_api(api_key="key-of-the-smoke-client")
    argv = ["--url", api.url, "--orders", "3", "--timeout", "5"]
    if via == "option":
        argv += ["--api-key", "key-of-the-smoke-client"]
    else:
        monkeypatch.setenv("DOFS_API_KEY", "key-of-the-smoke-client")
    code, verdicts, lines, _ = run(capsys, *argv)
    assert (code, verdicts) == (0, ALL_PASS), lines


def test_without_the_api_key_a_protected_api_fails_the_order_scenarios(
    fake_api: StartFake, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DOFS_API_KEY", raising=False)
    api = fake_api(api_key="key-of-the-smoke-client")
    code, verdicts, lines, _ = run(capsys, "--url", api.url, "--orders", "3", "--timeout", "5")
    assert code == 1
    assert verdicts["health"] == "PASS"
    assert verdicts["valid-order"] == "FAIL"
    assert "403" in line_of(lines, "valid-order")


def test_summary_line_names_counts_and_stack(fake_api: StartFake, capsys: pytest.CaptureFixture[str]) -> None:
    api = fake_api()
    code = smoke.main(["--url", api.url, "--orders", "3", "--timeout", "5"])
    last = capsys.readouterr().out.splitlines()[-1]

    assert code == 0
    assert last == f"OK: 5 passed, 0 failed against {api.url} (stack dev)"


def test_share_within_tolerance_passes_with_some_failures(
    fake_api: StartFake, capsys: pytest.CaptureFixture[str]
) -> None:
    api = fake_api(fulfilled_share=Decimal("0.9"))
    code, verdicts, lines, _ = run(capsys, "--url", api.url, "--orders", "20", "--timeout", "5")

    assert code == 0, lines
    assert verdicts["batch"] == "PASS"
    assert "fulfilled 18, failed 2" in line_of(lines, "batch")
    assert "observed 90.0% fulfilled / 10.0% failed" in line_of(lines, "batch")


def test_share_out_of_tolerance_fails_the_batch(
    fake_api: StartFake, capsys: pytest.CaptureFixture[str]
) -> None:
    api = fake_api(fulfilled_share=Decimal("0.5"))
    code, verdicts, lines, _ = run(capsys, "--url", api.url, "--orders", "20", "--timeout", "5")

    assert code == 1
    assert verdicts == {**ALL_PASS, "batch": "FAIL"}
    assert "fulfilled share outside the predicted tolerance" in line_of(lines, "batch")


def test_orders_stuck_in_received_fail_and_are_listed(
    fake_api: StartFake, capsys: pytest.CaptureFixture[str]
) -> None:
    api = fake_api(settles=False)
    code, verdicts, lines, _ = run(capsys, "--url", api.url, "--orders", "8", "--timeout", "0.4")

    assert code == 1
    assert verdicts == {**ALL_PASS, "valid-order": "FAIL", "batch": "FAIL"}
    assert "is RECEIVED after" in line_of(lines, "valid-order")
    batch = line_of(lines, "batch")
    assert "accepted 8/8, fulfilled 0, failed 0" in batch
    assert "8 not terminal by the deadline" in batch
    assert "(+3 more)" in batch
    listed = batch.split(": ")[-1].split(" (+")[0].split(", ")
    assert len(listed) == 5
    assert set(listed) <= set(api.orders)


def test_unhealthy_api_fails_health(fake_api: StartFake, capsys: pytest.CaptureFixture[str]) -> None:
    api = fake_api(health_status=500)
    code, verdicts, lines, _ = run(capsys, "--url", api.url, "--orders", "3", "--timeout", "5")

    assert code == 1
    assert verdicts == {**ALL_PASS, "health": "FAIL"}
    assert "HTTP 500" in line_of(lines, "health")


def test_invalid_order_accepted_then_rejected_passes(
    fake_api: StartFake, capsys: pytest.CaptureFixture[str]
) -> None:
    api = fake_api(refuse_invalid=False)
    code, verdicts, lines, _ = run(capsys, "--url", api.url, "--orders", "3", "--timeout", "5")

    assert code == 0
    assert verdicts["invalid-order"] == "PASS"
    assert "accepted, then REJECTED in" in line_of(lines, "invalid-order")


def test_invalid_order_accepted_and_never_rejected_fails(
    fake_api: StartFake, capsys: pytest.CaptureFixture[str]
) -> None:
    api = fake_api(refuse_invalid=False, reject_invalid=False)
    code, verdicts, lines, _ = run(capsys, "--url", api.url, "--orders", "3", "--timeout", "0.4")

    assert code == 1
    assert verdicts == {**ALL_PASS, "invalid-order": "FAIL"}
    assert "is RECEIVED after" in line_of(lines, "invalid-order")
    assert "expected REJECTED" in line_of(lines, "invalid-order")


def test_gateway_403_for_unknown_path_fails_not_found(
    fake_api: StartFake, capsys: pytest.CaptureFixture[str]
) -> None:
    api = fake_api(unknown_path_status=403)
    code, verdicts, lines, _ = run(capsys, "--url", api.url, "--orders", "3", "--timeout", "5")

    assert code == 1
    assert verdicts == {**ALL_PASS, "not-found": "FAIL"}
    assert "HTTP 403" in line_of(lines, "not-found")


def test_unreachable_url_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/dev"  # nothing listens there any more
    code, verdicts, _, err = run(capsys, "--url", url, "--timeout", "1")

    assert code == 2
    assert verdicts == {}
    assert len(err.splitlines()) == 1
    assert url in err


@pytest.mark.parametrize("stack", ["nope", "../dev", ""])
def test_bad_stack_exits_2_with_one_line(stack: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, verdicts, _, err = run(capsys, "--url", "http://127.0.0.1:9", "--stack", stack)

    assert code == 2
    assert verdicts == {}
    assert len(err.splitlines()) == 1
    assert "unknown stack" in err


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--url", "ftp://example.com"],
        ["--url", "127.0.0.1:8080"],
        ["--url", "http://127.0.0.1:9", "--orders", "0"],
        ["--url", "http://127.0.0.1:9", "--timeout", "-1"],
        ["--url", "http://127.0.0.1:9", "--concurrency", "many"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, verdicts, _, err = run(capsys, *argv)

    assert code == 2
    assert verdicts == {}
    assert err


# --- Stack settings ---------------------------------------------------------------------------------


def test_default_timeout_covers_every_receive_of_the_stack(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.t.yaml").write_text(
        'config:\n  aws:region: ap-south-1\n  dofs:maxReceiveCount: "4"\n'
        '  dofs:fulfillTimeoutSeconds: "5"\n  dofs:fulfillmentBatchWindowSeconds: "2"\n'
        "  dofs:apiAuth: none\n"  # without it, api_key: a client list would be required
    )
    settings = smoke.load_stack_settings("t", tmp_path)
    # 4 receives x (6 x 5 s fulfil timeout + 2 s batching window) + 30 s of slack
    assert smoke.default_timeout(settings) == 4 * 32 + 30


def test_invalid_stack_setting_is_a_usage_error(tmp_path: Path) -> None:
    stack_file = tmp_path / "Pulumi.bad.yaml"
    stack_file.write_text('config:\n  aws:region: ap-south-1\n  dofs:maxReceiveCount: "0"\n')

    with pytest.raises(smoke.SmokeUsageError, match="dofs:maxReceiveCount"):
        smoke.load_stack_settings("bad", tmp_path)


# --- Prediction and tolerance -------------------------------------------------------------------------


def test_prediction_of_the_seed_rates_is_exact() -> None:
    assert smoke.predicted_fulfilled_share(Decimal("0.7"), 3) == DEV_PREDICTED
    assert 1 - smoke.predicted_fulfilled_share(Decimal("0.7"), 3) == Decimal("0.027")
    assert smoke.predicted_fulfilled_share(Decimal("0.7"), 5) == Decimal("0.99757")
    assert smoke.predicted_fulfilled_share(Decimal(1), 3) == 1
    assert smoke.predicted_fulfilled_share(Decimal(0), 3) == 0


def test_tolerance_is_four_standard_deviations() -> None:
    expected = 4 * (DEV_PREDICTED * (1 - DEV_PREDICTED) / 40).sqrt()
    assert smoke.share_tolerance(DEV_PREDICTED, 40) == expected
    assert abs(expected - Decimal("0.10251")) < Decimal("0.00001")


def test_tolerance_is_never_below_five_points() -> None:
    assert smoke.share_tolerance(Decimal("0.5"), 1_000_000) == Decimal("0.05")
    assert smoke.share_within_tolerance(Decimal("0.55"), Decimal("0.5"), 1_000_000)
    assert not smoke.share_within_tolerance(Decimal("0.5500001"), Decimal("0.5"), 1_000_000)


def test_tolerance_boundaries_are_inclusive() -> None:
    tolerance = smoke.share_tolerance(DEV_PREDICTED, 40)
    epsilon = Decimal("1e-9")

    assert smoke.share_within_tolerance(DEV_PREDICTED - tolerance, DEV_PREDICTED, 40)
    assert not smoke.share_within_tolerance(DEV_PREDICTED - tolerance - epsilon, DEV_PREDICTED, 40)
    assert smoke.share_within_tolerance(Decimal(1), DEV_PREDICTED, 40)
    assert smoke.share_within_tolerance(Decimal(35) / 40, DEV_PREDICTED, 40)  # 87.5% is inside
    assert not smoke.share_within_tolerance(Decimal(34) / 40, DEV_PREDICTED, 40)  # 85% is not


@pytest.mark.parametrize("certain", [Decimal(0), Decimal(1)])
def test_certain_prediction_needs_an_exact_share(certain: Decimal) -> None:
    assert smoke.share_within_tolerance(certain, certain, 40)
    assert not smoke.share_within_tolerance(abs(certain - Decimal("0.025")), certain, 40)


# --- Client and payloads ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "path", "expected"),
    [
        ("http://127.0.0.1:8080", "/health", "http://127.0.0.1:8080/health"),
        ("http://127.0.0.1:8080/", "/health", "http://127.0.0.1:8080/health"),
        ("http://127.0.0.1:8080/", "orders/a-1", "http://127.0.0.1:8080/orders/a-1"),
        (
            "https://abc123.execute-api.ap-south-1.amazonaws.com/dev",
            "/orders/a-1",
            "https://abc123.execute-api.ap-south-1.amazonaws.com/dev/orders/a-1",
        ),
        (
            "https://abc123.execute-api.ap-south-1.amazonaws.com/dev/",
            "order",
            "https://abc123.execute-api.ap-south-1.amazonaws.com/dev/order",
        ),
    ],
)
def test_client_joins_routes_under_the_base_url(base: str, path: str, expected: str) -> None:
    assert smoke.ApiClient(base).url(path) == expected


def test_order_bodies_carry_exact_money() -> None:
    valid = smoke.valid_order_body()
    wire = smoke.encode_json(valid)

    assert '"price":29.99' in wire
    assert '"total_amount":60.08' in wire
    assert parse_json_decimal(wire)["total_amount"] == Decimal("60.08")
    assert "customer_id" not in smoke.invalid_order_body()
    assert smoke.valid_order_body()["customer_id"] != valid["customer_id"]


def test_responses_parse_money_as_decimal() -> None:
    response = smoke.Response.of(200, b'{"total_amount": 60.08}')

    assert response.json_object == {"total_amount": Decimal("60.08")}
    assert smoke.Response.of(502, b"<html>Bad Gateway</html>").json_object is None
