"""Property tests of the order API (promise 5): no generated request gets a 5xx or stores bad input.

Every generated request goes through ``api_handler.handler`` as an API Gateway REST (v1)
proxy event. An oracle written here lists every refusal that applies to the request: wrong
Content-Type (415), too many bytes (413), empty, not base64, not UTF-8, not JSON, not a
JSON object, bad Idempotency-Key (400), not an order (422, ``order_shape.find_problems``).
A refused request must get one of those answers, as a JSON error whose message names the
problem, with nothing written to the orders table and no execution started. A request to
which none applies is a well-shaped order: it must get a 202, and the stored order must
hold the body exactly as sent.

moto starts once per test function; every example clears the orders table and gets a state
machine of its own, so it starts from empty state and cannot see what another example left.
Examples are derandomized (no example database), so every run sends the same requests.
"""

from __future__ import annotations

import base64
import binascii
import json
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers import api_handler, order_shape
from handlers.models import parse_json_decimal
from handlers.order_intake import order_id_for
from handlers.settings import DEFAULT_MAX_ORDER_BODY_BYTES, MAX_ORDER_BODY_BYTES
from tests.support.properties import reproducible
from tests.unit.conftest import PASS_DEFINITION, Tables
from tests.unit.support import Raw, api_event, fixture_data, fixture_text, log_lines, scan_all

EXAMPLES = {"bytes": 300, "json": 500, "mutations": 600, "headers": 400}
GENERATED: dict[str, int] = {}

# A request nested this deep parses wherever it is parsed; one this deep never does. Depths
# in between depend on the caller's stack, so no strategy generates them.
SHALLOW_NESTING = 300
DEEP_NESTING = 1_500


@pytest.fixture(scope="module", autouse=True)
def _report_generated() -> Iterator[None]:
    yield
    print(f"\nfuzz: {sum(GENERATED.values())} generated requests ({GENERATED})")


def fuzz_settings(examples: int) -> settings:
    return reproducible(examples, HealthCheck.large_base_example)


# --- JSON text, including what json.dumps will not write -------------------------------------


@dataclass(frozen=True)
class Obj:
    """A JSON object written pair by pair, in order: a repeated key stays repeated."""

    pairs: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class RawStr:
    """A JSON string whose characters are written unescaped: control characters stay raw."""

    text: str


@dataclass(frozen=True)
class Style:
    ascii_only: bool = True  # False writes non-ASCII (and lone surrogates) as they are
    gap: str = " "


def render(value: Any, style: Style = Style()) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=style.ascii_only)
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, RawStr):
        return '"' + value.text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        return "[" + f",{style.gap}".join(render(item, style) for item in value) + "]"
    pairs = value.pairs if isinstance(value, Obj) else tuple(value.items())
    written = (
        f"{json.dumps(k, ensure_ascii=style.ascii_only)}:{style.gap}{render(v, style)}" for k, v in pairs
    )
    return "{" + f",{style.gap}".join(written) + "}"


# --- requests and the oracle -----------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    body: str | bytes | None  # bytes are sent base64-encoded (isBase64Encoded)
    content_type: str | None = "application/json"  # None: no Content-Type header
    key: str | None = None  # None: no Idempotency-Key header
    null_key: bool = False  # an Idempotency-Key header whose value is null: as if absent
    limit: int | None = None  # MAX_ORDER_BODY_BYTES; None: unset, the default applies
    raw_base64: str | None = None  # an isBase64Encoded body sent as is, base64 or not
    path: str = "/order"
    content_type_header: str = "Content-Type"
    key_header: str = "Idempotency-Key"
    extra_headers: tuple[tuple[str, str], ...] = ()

    def event(self) -> dict[str, Any]:
        headers: dict[str, Any] = dict(self.extra_headers)
        if self.content_type is not None:
            headers[self.content_type_header] = self.content_type
        if self.key is not None:
            headers[self.key_header] = self.key
        elif self.null_key:
            headers[self.key_header] = None
        if isinstance(self.body, bytes):
            event = api_event("POST", self.path, None, headers, base64_body=self.body, content_type=None)
        else:
            event = api_event("POST", self.path, self.body, headers, content_type=None)
        if self.raw_base64 is not None:
            event["body"] = self.raw_base64
            event["isBase64Encoded"] = True
        return event

    def wire(self) -> bytes | None:
        """The body's bytes as the API received them; None when it is not base64."""
        if self.raw_base64 is not None:
            try:
                return base64.b64decode(self.raw_base64, validate=True)
            except (binascii.Error, ValueError):
                return None
        if isinstance(self.body, bytes):
            return self.body
        return (self.body or "").encode("utf-8", "surrogatepass")


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    mentions: tuple[str, ...]  # every one appears in the message
    problems: tuple[str, ...] | None = None


def _is_json_media_type(content_type: str | None) -> bool:
    media = (content_type or "").split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _is_valid_key(key: str) -> bool:
    """1 to 255 printable ASCII characters, no spaces."""
    return 1 <= len(key) <= 255 and all("\x21" <= char <= "\x7e" for char in key)


def _content_refusals(wire: bytes) -> list[Refusal]:
    if not wire.strip(b" \t\r\n"):
        return [Refusal(400, "empty_body", ("empty",))]
    if not wire.strip():  # other ASCII spacing only: empty to some, not JSON to all
        return [Refusal(400, "empty_body", ("empty",)), Refusal(400, "invalid_json", ("JSON",))]
    try:
        text = wire.decode("utf-8")
    except UnicodeDecodeError:
        return [Refusal(400, "invalid_encoding", ("UTF-8",))]
    try:
        value = parse_json_decimal(text)
    except RecursionError:
        return [Refusal(400, "invalid_json", ("nested",))]
    except (ValueError, ArithmeticError):  # ArithmeticError: a number Decimal cannot hold
        return [Refusal(400, "invalid_json", ("JSON",))]
    if not isinstance(value, dict):
        return [Refusal(400, "invalid_order", ("JSON object",))]
    problems = order_shape.find_problems(value)
    if not problems:
        return []
    listed = problems[: api_handler.MAX_PROBLEMS_LISTED]
    if len(problems) > len(listed):
        listed.append(f"... and {len(problems) - len(listed)} more")
    return [Refusal(422, "invalid_order", tuple(listed), tuple(listed))]


def refusals(request: Request) -> list[Refusal]:
    """Every answer that would be right for ``request``; empty when it must be accepted."""
    found: list[Refusal] = []
    if not _is_json_media_type(request.content_type):
        found.append(Refusal(415, "unsupported_media_type", ("Content-Type",)))
    if request.key is not None and not _is_valid_key(request.key):
        found.append(Refusal(400, "invalid_idempotency_key", ("Idempotency-Key",)))
    wire = request.wire()
    if wire is None:
        return [*found, Refusal(400, "invalid_body", ("base64",))]
    limit = request.limit or DEFAULT_MAX_ORDER_BODY_BYTES
    if len(wire) > limit:
        found.append(Refusal(413, "body_too_large", ("bytes", str(limit))))
    return found + _content_refusals(wire)


def _is_text(value: Any) -> bool:
    return (
        isinstance(value, str)
        and bool(value.strip())
        and len(value) <= order_shape.MAX_TEXT_LENGTH
        and all(unicodedata.category(char) not in {"Cc", "Cs", "Cn"} for char in value)
    )


def _is_money(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return False
    amount = Decimal(value)
    return amount.is_finite() and 0 <= amount <= order_shape.MAX_MONEY and (amount * 100) % 1 == 0


def _is_quantity(value: Any) -> bool:
    return type(value) is int and 1 <= value <= order_shape.MAX_QUANTITY


def looks_like_an_order(order: Any) -> bool:
    """The order's shape checked here, independently of ``validator``: what a 202 promises."""
    if not isinstance(order, dict) or set(order) != set(order_shape.ORDER_FIELDS):
        return False
    items, address = order["items"], order["shipping_address"]
    return (
        _is_text(order["customer_id"])
        and _is_money(order["total_amount"])
        and isinstance(items, list)
        and 1 <= len(items) <= order_shape.MAX_ITEMS
        and all(
            isinstance(item, dict)
            and set(item) == {"product_id", "quantity", "price"}
            and _is_text(item["product_id"])
            and _is_quantity(item["quantity"])
            and _is_money(item["price"])
            for item in items
        )
        and isinstance(address, dict)
        and {"street", "city", "state", "zip"}
        <= set(address)
        <= {"street", "city", "state", "zip", "country"}
        and all(_is_text(value) for value in address.values())
    )


# --- the harness -----------------------------------------------------------------------------


@dataclass
class Harness:
    tables: Tables
    role_arn: str
    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]
    sfn: Any = field(default_factory=lambda: boto3.client("stepfunctions"))
    sent: int = 0
    accepted: int = 0
    refused: dict[str, int] = field(default_factory=dict)

    def _fresh_state(self) -> str:
        for item in scan_all(self.tables.orders):
            self.tables.orders.delete_item(Key={"order_id": item["order_id"]})
        arn: str = self.sfn.create_state_machine(
            name=f"dofs-fuzz-{self.sent}", definition=json.dumps(PASS_DEFINITION), roleArn=self.role_arn
        )["stateMachineArn"]
        self.monkeypatch.setenv("STEP_FUNCTION_ARN", arn)
        return arn

    def _executions(self, machine: str) -> list[str]:
        found = self.sfn.list_executions(stateMachineArn=machine)["executions"]
        return [execution["name"] for execution in found]

    def send(self, request: Request) -> None:
        self.sent += 1
        machine = self._fresh_state()
        if request.limit is None:
            self.monkeypatch.delenv(MAX_ORDER_BODY_BYTES, raising=False)
        else:
            self.monkeypatch.setenv(MAX_ORDER_BODY_BYTES, str(request.limit))
        self.capsys.readouterr()

        response = api_handler.handler(request.event(), None)

        status = response["statusCode"]
        assert status == 202 or 400 <= status < 500, response
        errors = [entry for entry in log_lines(self.capsys.readouterr().out) if entry["level"] == "ERROR"]
        assert errors == [], errors
        expected = refusals(request)
        if status == 202:
            self._check_accepted(request, response, expected, machine)
        else:
            self._check_refused(response, expected, machine)

    def _check_accepted(
        self, request: Request, response: dict[str, Any], expected: list[Refusal], machine: str
    ) -> None:
        assert expected == [], f"accepted a request to refuse with {expected}"
        self.accepted += 1
        order_id = json.loads(response["body"])["order_id"]
        if request.key is not None:
            assert order_id == order_id_for(request.key)
        wire = request.wire()
        assert wire is not None
        text = wire.decode("utf-8")
        order = parse_json_decimal(text)
        assert order_shape.find_problems(order) == []
        assert looks_like_an_order(order), f"accepted something that is not an order: {text!r}"
        (stored,) = scan_all(self.tables.orders)
        assert stored["order_id"] == order_id
        assert stored["status"] == "RECEIVED"
        assert stored["request_body"] == text
        assert self._executions(machine) == [order_id]

    def _check_refused(self, response: dict[str, Any], expected: list[Refusal], machine: str) -> None:
        status = response["statusCode"]
        assert expected, f"refused a well-shaped order: {response}"
        assert response["headers"]["Content-Type"] == "application/json"
        body = json.loads(response["body"])
        assert isinstance(body, dict), body
        assert isinstance(body.get("error"), str), body
        tally = f"{status} {body['error']}"
        self.refused[tally] = self.refused.get(tally, 0) + 1
        message = body.get("message")
        assert isinstance(message, str) and message.strip(), body
        matching = [r for r in expected if (r.status, r.code) == (status, body["error"])]
        assert matching, f"answered {status} {body}, expected one of {expected}"
        assert any(all(word in message for word in r.mentions) for r in matching), (message, matching)
        if status == 422:
            assert tuple(body["problems"]) in {r.problems for r in matching}, body
        assert scan_all(self.tables.orders) == [], "a refused request left an order"
        assert self._executions(machine) == [], "a refused request started an execution"

    def finish(self, name: str) -> None:
        GENERATED[name] = self.sent
        with self.capsys.disabled():
            print(f"\nfuzz[{name}]: {self.sent} requests, {self.accepted} accepted, refused {self.refused}")
        assert self.sent >= EXAMPLES[name]


@pytest.fixture
def harness(
    tables: Tables,
    state_machine_arn: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Harness:
    role_arn: str = boto3.client("stepfunctions").describe_state_machine(stateMachineArn=state_machine_arn)[
        "roleArn"
    ]
    return Harness(tables, role_arn, monkeypatch, capsys)


# --- strategies ------------------------------------------------------------------------------

ANY_CHAR = st.characters(exclude_categories=())  # control characters and lone surrogates too
ANY_TEXT = st.text(ANY_CHAR, max_size=24)
NAME_CHARS = st.characters(categories=("L", "N", "P", "S"))
NAMES = st.text(NAME_CHARS, min_size=1, max_size=16)

EXPONENTS = st.one_of(st.integers(0, 500), st.integers(10**17, 10**21))  # Decimal holds up to 10**18 - 1
WELL_FORMED_NUMBERS = st.builds(
    lambda sign, whole, fraction, exponent: Raw(f"{sign}{whole}{fraction}{exponent}"),
    st.sampled_from(["", "-"]),
    st.one_of(st.just("0"), st.integers(1, 10**30).map(str)),
    st.one_of(st.just(""), st.integers(0, 10**40).map(lambda n: f".{n}")),
    st.one_of(
        st.just(""),
        st.builds(
            lambda marker, sign, n: f"{marker}{sign}{n}",
            st.sampled_from("eE"),
            st.sampled_from("+-"),
            EXPONENTS,
        ),
        EXPONENTS.map(lambda n: f"e{n}"),
    ),
)
MALFORMED_TOKENS = ["NaN", "-NaN", "Infinity", "-Infinity", "nan", "inf", "+1", "01", "-", ".5", "5."]
MALFORMED_NUMBERS = st.sampled_from(
    [Raw(token) for token in [*MALFORMED_TOKENS, "1e", "1e+", "0x10", "1_000"]]
)
NUMBER_TOKENS = st.one_of(
    WELL_FORMED_NUMBERS,
    MALFORMED_NUMBERS,
    st.integers(4_200, 4_400).map(lambda digits: Raw("9" * digits)),  # Python reads at most 4,300 digits
)
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.decimals(allow_nan=False, allow_infinity=False),
    NUMBER_TOKENS,
    ANY_TEXT,
    ANY_TEXT.map(RawStr),
)
KEYS = st.one_of(st.sampled_from([*order_shape.ORDER_FIELDS, *order_shape.ITEM_FIELDS]), ANY_TEXT)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=5),
        st.lists(st.tuples(KEYS, children), max_size=5).map(lambda pairs: Obj(tuple(pairs))),
    )


JSON_VALUES = st.recursive(LEAVES, _containers, max_leaves=20)
SMALL_JSON_VALUES = st.recursive(LEAVES, _containers, max_leaves=4)


@st.composite
def nested(draw: st.DrawFn) -> Raw:
    """A value inside many arrays or objects, written without recursion."""
    depth = draw(st.one_of(st.integers(1, SHALLOW_NESTING), st.integers(DEEP_NESTING, 12_000)))
    inner = render(draw(SMALL_JSON_VALUES))
    if draw(st.booleans()):
        return Raw("[" * depth + inner + "]" * depth)
    return Raw('{"a":' * depth + inner + "}" * depth)


STYLES = st.builds(Style, st.booleans(), st.sampled_from(["", " ", "\n\t"]))

MONEY = st.one_of(
    st.decimals(min_value=0, max_value=1000, places=2),
    st.decimals(min_value=0, max_value=order_shape.MAX_MONEY, places=2),
)


@st.composite
def valid_orders(draw: st.DrawFn) -> dict[str, Any]:
    """Orders ``find_problems`` accepts; the total is usually, not always, the items' sum."""
    lines = draw(
        st.lists(st.tuples(NAMES, st.integers(1, order_shape.MAX_QUANTITY), MONEY), min_size=1, max_size=4)
    )
    items = [{"product_id": name, "quantity": quantity, "price": price} for name, quantity, price in lines]
    exact = sum((price * quantity for _, quantity, price in lines), start=Decimal(0))
    total = draw(MONEY) if exact > order_shape.MAX_MONEY or draw(st.integers(0, 4)) == 0 else exact
    address = draw(
        st.fixed_dictionaries(
            {"street": NAMES, "city": NAMES, "state": NAMES, "zip": NAMES}, optional={"country": NAMES}
        )
    )
    return {"customer_id": draw(NAMES), "items": items, "total_amount": total, "shipping_address": address}


def _dicts(value: Any) -> list[dict[str, Any]]:
    """Every object in ``value``, outermost first."""
    if isinstance(value, dict):
        return [value, *(found for item in value.values() for found in _dicts(item))]
    if isinstance(value, list):
        return [found for item in value for found in _dicts(item)]
    return []


def _items(order: dict[str, Any]) -> list[dict[str, Any]]:
    items = order.get("items")
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


QUANTITIES: st.SearchStrategy[Any] = st.one_of(
    st.integers(-(10**6), 0),
    st.integers(order_shape.MAX_QUANTITY + 1, 10**40),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        [
            Decimal("1.5"),
            Decimal("2.0"),
            Decimal("1E+2"),
            Decimal("-0.0"),
            "2",
            True,
            None,
            [],
            Raw("1e400"),
            Raw("-1e400"),
            Raw("2.00"),
            Raw("1E2"),
            Raw("1" + "0" * 400),
        ]
    ),
)
PRICES: st.SearchStrategy[Any] = st.one_of(
    st.decimals(min_value=0, max_value=10**6, places=3),
    st.decimals(min_value=0, max_value=1, places=28),
    st.decimals(min_value=-1000, max_value=Decimal("-0.01"), places=2),
    st.decimals(min_value=order_shape.MAX_MONEY + Decimal("0.01"), max_value=10**20, places=2),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        [
            "29.99",
            True,
            None,
            {},
            Decimal("-0.00"),
            Decimal("1E+2"),
            Decimal("29.990000000000000000000000000000"),
            Raw("29.990000000000000000000000000001"),
            Raw("1e400"),
            Raw("1e-400"),
            Raw("-0"),
            Raw("2999E-2"),
        ]
    ),
)
BAD_TEXTS = st.one_of(
    st.sampled_from(
        ["", " ", "\t\n", "x" * 257, "a\x00b", "\x1f", "\ud800", "x\udfff", "\u0378", "ok\u200bok", "\x7f"]
    ),
    st.text(st.characters(categories=("Cc", "Cs", "Cn", "Zs")), min_size=1, max_size=5),
    st.builds(  # a name with one character no name may hold
        lambda before, char, after: before + char + after,
        st.text(NAME_CHARS, max_size=4),
        st.characters(categories=("Cc", "Cs", "Cn")),
        st.text(NAME_CHARS, max_size=4),
    ),
    st.integers(-5, 5),
    st.booleans(),
    st.none(),
    st.text(ANY_CHAR, min_size=1, max_size=5).map(RawStr),
)
TEXT_FIELDS = ("customer_id", "product_id", "street", "city", "state", "zip", "country")

Mutation = Callable[[st.DrawFn, dict[str, Any]], None]


def _drop(draw: st.DrawFn, order: dict[str, Any]) -> None:
    target = draw(st.sampled_from(_dicts(order)))
    if target:
        del target[draw(st.sampled_from(sorted(target)))]


def _rename(draw: st.DrawFn, order: dict[str, Any]) -> None:
    target = draw(st.sampled_from(_dicts(order)))
    if target:
        name = draw(st.sampled_from(sorted(target)))
        new = draw(st.sampled_from([name.upper(), f"{name}_", f" {name}", name.replace("_", "-"), name[:-1]]))
        target.setdefault(new, target.pop(name))


def _add(draw: st.DrawFn, order: dict[str, Any]) -> None:
    target = draw(st.sampled_from(_dicts(order)))
    target[draw(KEYS)] = draw(SMALL_JSON_VALUES)


def _retype(draw: st.DrawFn, order: dict[str, Any]) -> None:
    target = draw(st.sampled_from(_dicts(order)))
    if target:
        target[draw(st.sampled_from(sorted(target)))] = draw(SMALL_JSON_VALUES)


def _bad_quantity(draw: st.DrawFn, order: dict[str, Any]) -> None:
    items = _items(order)
    if items:
        draw(st.sampled_from(items))["quantity"] = draw(QUANTITIES)


def _bad_money(draw: st.DrawFn, order: dict[str, Any]) -> None:
    targets = [*_items(order), order]
    target = draw(st.sampled_from(targets))
    target["price" if target is not order else "total_amount"] = draw(PRICES)


def _respell_money(draw: st.DrawFn, order: dict[str, Any]) -> None:
    """The same amount written another valid way: the order stays well-shaped."""
    targets = [(item, "price") for item in _items(order)] + [(order, "total_amount")]
    target, name = draw(st.sampled_from(targets))
    amount = target.get(name)
    if (
        isinstance(amount, Decimal)
        and amount.as_tuple().exponent == -2
        and 0 <= amount <= order_shape.MAX_MONEY
    ):
        cents = int(amount.scaleb(2))
        spellings = [
            f"{cents}E-2",
            f"{cents}e-02",
            str(amount.normalize()),
            f"{amount}000",
            str(cents // 100),
        ]
        target[name] = Raw(draw(st.sampled_from(spellings if cents % 100 == 0 else spellings[:4])))


def _bad_text(draw: st.DrawFn, order: dict[str, Any]) -> None:
    targets = [(d, k) for d in _dicts(order) for k in d if k in TEXT_FIELDS]
    if targets:
        target, name = draw(st.sampled_from(targets))
        target[name] = draw(BAD_TEXTS)


def _bad_items(draw: st.DrawFn, order: dict[str, Any]) -> None:
    first = _items(order)[:1] or [{}]
    order["items"] = draw(
        st.sampled_from(
            [[], first * (order_shape.MAX_ITEMS + 1), first * order_shape.MAX_ITEMS, "items", [1], {}]
        )
    )


MUTATIONS: list[Mutation] = [
    _drop,
    _rename,
    _add,
    _retype,
    _bad_quantity,
    _bad_money,
    _respell_money,
    _bad_text,
    _bad_items,
]


def _with_duplicate(draw: st.DrawFn, order: dict[str, Any]) -> Any:
    """``order`` with one object naming a key twice."""
    target = draw(st.sampled_from(_dicts(order)))
    if not target:
        return order
    name = draw(st.sampled_from(sorted(target)))
    twice = Obj((*target.items(), (name, draw(st.sampled_from([target[name], None])))))
    if target is order:
        return twice
    for container in _dicts(order):
        for key, value in container.items():
            if value is target:
                container[key] = twice
        for key, value in container.items():
            if isinstance(value, list):
                container[key] = [twice if item is target else item for item in value]
    return order


@st.composite
def mutated_order_bodies(draw: st.DrawFn) -> str:
    order = draw(valid_orders())
    for _ in range(draw(st.integers(1, 3))):
        draw(st.sampled_from(MUTATIONS))(draw, order)
    tree = _with_duplicate(draw, order) if draw(st.integers(0, 9)) == 9 else order
    text = render(tree, draw(STYLES))
    if draw(st.integers(0, 9)) == 9:
        text = text[: len(text) - draw(st.integers(1, len(text)))]
    return text


@st.composite
def json_bodies(draw: st.DrawFn) -> str:
    value = draw(st.one_of(JSON_VALUES, nested()))
    text = render(value, draw(STYLES))
    choice = draw(st.integers(0, 9))
    if choice == 9:
        text = text[: len(text) - draw(st.integers(1, len(text)))]
    elif choice == 8:
        text = "\ufeff" + text
    elif choice == 7:
        text = (
            draw(st.sampled_from([" ", "\n", "\t", "\r\n"])) + text + draw(st.sampled_from(["", " ", "\n"]))
        )
    return text


VALID_ORDER_TEXT = fixture_text("valid_order.json")
BAD_BYTES = [
    b"\xff",
    b"\xfe\xff",
    b"\xc0\xaf",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\xe2\x82",
    b"\x00",
    b"\x80",
]


@st.composite
def corrupted_order_bytes(draw: st.DrawFn) -> bytes:
    """A valid order's bytes with bytes inserted, replaced or cut."""
    base = render(draw(valid_orders()), draw(STYLES)).encode("utf-8") if draw(st.booleans()) else b""
    data = base or VALID_ORDER_TEXT.encode("utf-8")
    at = draw(st.integers(0, len(data)))
    junk = draw(st.one_of(st.sampled_from(BAD_BYTES), st.binary(min_size=1, max_size=4)))
    operation = draw(st.sampled_from(["insert", "replace", "cut", "bom"]))
    if operation == "insert":
        return data[:at] + junk + data[at:]
    if operation == "replace":
        return data[:at] + junk + data[at + len(junk) :]
    if operation == "cut":
        return data[:at]
    return b"\xef\xbb\xbf" + data


def _key(harness: Harness) -> str:
    return f"fuzz-{harness.sent}"


# --- (a) arbitrary bytes ---------------------------------------------------------------------


def test_arbitrary_bytes_are_never_a_5xx_or_a_stored_order(harness: Harness) -> None:
    @fuzz_settings(EXAMPLES["bytes"])
    @given(
        body=st.one_of(st.binary(max_size=512), corrupted_order_bytes()),
        raw_base64=st.one_of(st.none(), st.none(), st.text("ABCDab01+/= \n!-_", max_size=24)),
    )
    def check(body: bytes, raw_base64: str | None) -> None:
        harness.send(Request(body, key=_key(harness), raw_base64=raw_base64))

    check()
    harness.finish("bytes")


# --- (b) arbitrary JSON ----------------------------------------------------------------------


def test_arbitrary_json_is_never_a_5xx_or_a_stored_order(harness: Harness) -> None:
    @fuzz_settings(EXAMPLES["json"])
    @given(body=json_bodies(), as_base64=st.booleans())
    def check(body: str, as_base64: bool) -> None:
        if as_base64:
            sent: str | bytes = body.encode("utf-8", "surrogatepass")
        else:
            sent = body
        harness.send(Request(sent, key=_key(harness)))

    check()
    harness.finish("json")


# --- (c) mutated orders ----------------------------------------------------------------------


def test_mutated_orders_are_accepted_exactly_when_well_shaped(harness: Harness) -> None:
    @fuzz_settings(EXAMPLES["mutations"])
    @given(body=mutated_order_bodies())
    def check(body: str) -> None:
        harness.send(Request(body, key=_key(harness)))

    check()
    harness.finish("mutations")


# --- (d) content types and headers -----------------------------------------------------------

JSON_MEDIA_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "APPLICATION/JSON",
    " application/json ",
    "application/vnd.dofs+json",
    "application/problem+json;q=1",
]
OTHER_MEDIA_TYPES = [
    "text/plain",
    "text/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/xml",
    "application/jsonp",
    "application/json-patch",
    "json",
    "",
    " ",
    ";application/json",
    "*/*",
]
CONTENT_TYPES = st.one_of(
    st.sampled_from(JSON_MEDIA_TYPES),
    st.sampled_from(JSON_MEDIA_TYPES),
    st.sampled_from(JSON_MEDIA_TYPES),
    st.none(),
    st.sampled_from(OTHER_MEDIA_TYPES),
    st.text(ANY_CHAR, max_size=30),
)
KEY_CHARS = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
BAD_KEY_CHARS = [" ", "\t", "\n", "\r", "\x00", "\x7f", "é", "\u3000", "\ud800"]


@st.composite
def idempotency_keys(draw: st.DrawFn) -> str | None:
    kind = draw(st.sampled_from(["none", "valid", "valid", "empty", "long", "bad character"]))
    if kind == "none":
        return None
    if kind == "empty":
        return ""
    if kind == "long":
        return "k" * draw(st.integers(256, 400))
    key = draw(st.text(KEY_CHARS, min_size=1, max_size=255))
    if kind == "valid":
        return key
    at = draw(st.sampled_from([len(key), 0, len(key) // 2]))
    return key[:at] + draw(st.sampled_from(BAD_KEY_CHARS)) + key[at:]


HEADER_NAMES = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=":"), min_size=1
)
EXTRA_HEADERS = st.lists(
    st.tuples(
        HEADER_NAMES.filter(lambda name: name.lower() not in {"content-type", "idempotency-key"}),
        st.text(ANY_CHAR, max_size=30),
    ),
    max_size=3,
)


@st.composite
def header_requests(draw: st.DrawFn) -> Request:
    body = draw(
        st.one_of(
            valid_orders().flatmap(lambda order: STYLES.map(lambda style: render(order, style))),
            st.just(VALID_ORDER_TEXT),
            mutated_order_bodies(),
            st.sampled_from(["", "[]", "{", "null", '{"customer_id": NaN}']),
        )
    )
    sent: str | bytes = body.encode("utf-8", "surrogatepass") if draw(st.booleans()) else body
    size = len(body.encode("utf-8", "surrogatepass"))
    near = st.integers(size - 2, size + 2).filter(lambda n: n > 0)
    limit = draw(st.one_of(st.none(), st.none(), near, st.integers(1, 2_048)))
    key = draw(idempotency_keys())
    return Request(
        sent,
        content_type=draw(CONTENT_TYPES),
        key=key,
        null_key=key is None and draw(st.booleans()),
        limit=limit,
        path=draw(st.sampled_from(["/order", "/orders"])),
        content_type_header=draw(st.sampled_from(["Content-Type", "content-type", "CONTENT-TYPE"])),
        key_header=draw(st.sampled_from(["Idempotency-Key", "idempotency-key", "IDEMPOTENCY-KEY"])),
        extra_headers=tuple(draw(EXTRA_HEADERS)),
    )


def test_content_types_and_headers_never_get_a_5xx_or_store_bad_input(harness: Harness) -> None:
    @fuzz_settings(EXAMPLES["headers"])
    @given(request=header_requests())
    def check(request: Request) -> None:
        harness.send(request)

    check()
    harness.finish("headers")


# --- the oracle itself -----------------------------------------------------------------------


def with_customer(escaped: str) -> str:
    return VALID_ORDER_TEXT.replace('"cust_123"', f'"{escaped}"')


def test_the_oracle_accepts_the_fixture_order_and_refuses_each_kind_of_bad_input() -> None:
    # The fuzz tests are only as strong as this: every kind of bad input must be named.
    assert refusals(Request(VALID_ORDER_TEXT)) == []
    assert refusals(Request(VALID_ORDER_TEXT, key="k" * 255)) == []
    assert refusals(Request(VALID_ORDER_TEXT, content_type="application/vnd.x+json; charset=utf-8")) == []
    kinds = {
        "content type": Request(VALID_ORDER_TEXT, content_type="text/plain"),
        "size": Request(VALID_ORDER_TEXT, limit=len(VALID_ORDER_TEXT.encode()) - 1),
        "empty": Request(" \n"),
        "base64": Request(None, raw_base64="!!"),
        "utf-8": Request(b'{"a": "\xff"}'),
        "json": Request(VALID_ORDER_TEXT[:-2]),
        "nesting": Request("[" * DEEP_NESTING + "]" * DEEP_NESTING),
        "object": Request("[]"),
        "order": Request(VALID_ORDER_TEXT.replace('"quantity": 2', '"quantity": -2')),
        "key": Request(VALID_ORDER_TEXT, key="a b"),
        "key with a newline": Request(VALID_ORDER_TEXT, key="ab\n"),
    }
    codes = {kind: [(r.status, r.code) for r in refusals(request)] for kind, request in kinds.items()}
    assert codes == {
        "content type": [(415, "unsupported_media_type")],
        "size": [(413, "body_too_large")],
        "empty": [(400, "empty_body")],
        "base64": [(400, "invalid_body")],
        "utf-8": [(400, "invalid_encoding")],
        "json": [(400, "invalid_json")],
        "nesting": [(400, "invalid_json")],
        "object": [(400, "invalid_order")],
        "order": [(422, "invalid_order")],
        "key": [(400, "invalid_idempotency_key")],
        "key with a newline": [(400, "invalid_idempotency_key")],
    }
    assert looks_like_an_order(parse_json_decimal(VALID_ORDER_TEXT))
    assert not looks_like_an_order(parse_json_decimal(with_customer("\\ud800")))
    assert not looks_like_an_order(parse_json_decimal(with_customer("\\u0000")))
    assert not looks_like_an_order(parse_json_decimal(with_customer(" ")))
    (order_refusal,) = refusals(kinds["order"])
    assert order_refusal.problems == ("items[0].quantity: must be greater than 0",)


def test_render_writes_what_json_dumps_would_and_what_it_would_not() -> None:
    order = fixture_data("valid_order.json")
    assert parse_json_decimal(render(order)) == order
    assert render(Obj((("a", 1), ("a", 2))), Style(gap="")) == '{"a":1,"a":2}'
    assert render(RawStr("a\x01"), Style()) == '"a\x01"'
    assert render(["\ud800"], Style(ascii_only=True, gap="")) == '["\\ud800"]'
    assert render(Raw("1e400")) == "1e400"
