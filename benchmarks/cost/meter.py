"""Count what a local-stack run uses, at the points AWS would bill it.

``Meter`` hooks, for as long as it is entered:
- every request the emulator serves (moto's ``BaseResponse.call_action``): requests by
  service and action, SQS's in 64 KB chunks of the larger of request and response;
- DynamoDB's writes and reads in the emulator's backend, with the item before and after,
  priced in units by ``capacity``;
- every Lambda invocation in the in-process runtime: its wall duration, memory, invoker,
  and the bytes its handler writes to stdout (what Lambda ingests as its log);
- every request the local API gateway serves.

Requests from a client whose user agent carries ``OBSERVER_AGENT`` (the tool's own reads)
are served but not counted. Counting happens only inside ``recording()``. Enter the meter
before the local stack starts: the stack then wraps these hooks in its own locks (a
conditional write is atomic there), so the item before and after are read in the lock.
"""

from __future__ import annotations

import contextlib
import copy
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TextIO
from unittest import mock

from moto.core.responses import BaseResponse
from moto.dynamodb.exceptions import ConditionalCheckFailed
from moto.dynamodb.models import DynamoDBBackend

from benchmarks.cost.capacity import (
    IndexSpec,
    Item,
    TableSpec,
    failed_write_cost,
    item_size,
    key_text,
    read_units,
    write_cost,
)
from benchmarks.cost.tally import API, OTHER, SCHEDULE, SQS, Tally
from local.gateway import LocalGateway
from local.lambda_runtime import InProcessLambdaRuntime

OBSERVER_AGENT = "dofs-cost-observer"
TRANSACTIONAL_WRITE = "TransactWriteItems"
ITEM_READS = {"GetItem": False, "BatchGetItem": False, "TransactGetItems": True}  # action -> transactional


@dataclass(frozen=True)
class RequestContext:
    """The emulator request this thread is serving."""

    service: str
    action: str
    observer: bool
    consistent: bool


def invoker_of(event: Any) -> str:
    """Who invoked a function, from its event: API Gateway, an SQS poller, a schedule, or other."""
    if not isinstance(event, Mapping):
        return OTHER
    if "requestContext" in event and "httpMethod" in event:
        return API
    records = event.get("Records")
    if isinstance(records, list) and records and all(r.get("eventSource") == "aws:sqs" for r in records):
        return SQS
    if event.get("source") == "aws.events" or event.get("detail-type") == "Scheduled Event":
        return SCHEDULE
    return OTHER


def _consistent_read(action: str, body: Any) -> bool:
    if not isinstance(body, Mapping):
        return False
    if action == "BatchGetItem":
        return any(bool(t.get("ConsistentRead")) for t in (body.get("RequestItems") or {}).values())
    return bool(body.get("ConsistentRead"))


def _size(payload: Any) -> int:
    if isinstance(payload, bytes | bytearray):
        return len(payload)
    return len(str(payload or "").encode("utf-8"))


def _empty_receive(action: str, response_body: Any) -> bool:
    if action != "ReceiveMessage":
        return False
    text = (
        response_body.decode("utf-8", "replace") if isinstance(response_body, bytes) else f"{response_body}"
    )
    try:
        return not json.loads(text).get("Messages")
    except (ValueError, AttributeError):
        return "<Message>" not in text


def table_spec(table: Any) -> TableSpec:
    """The key schema and indexes of a table as the emulator holds it."""
    indexes = []
    for index in [*(table.global_indexes or []), *(table.indexes or [])]:
        keys = {k["KeyType"]: k["AttributeName"] for k in index.schema}
        projection = index.projection or {}
        indexes.append(
            IndexSpec(
                name=index.name,
                hash_key=keys["HASH"],
                range_key=keys.get("RANGE"),
                projection=projection.get("ProjectionType", "ALL"),
                non_key_attributes=frozenset(projection.get("NonKeyAttributes") or ()),
            )
        )
    return TableSpec(table.name, table.hash_key_attr, table.range_key_attr, tuple(indexes))


def _snapshot(item: Any) -> dict[str, Any] | None:
    return copy.deepcopy(item.to_json()["Attributes"]) if item is not None else None


class _AttributingStream:
    """stdout while metering: passes every write on, and counts each complete line to the
    function whose handler runs on the writing thread (Lambda ingests stdout as its log)."""

    def __init__(self, wrapped: TextIO, meter: Meter) -> None:
        self._wrapped = wrapped
        self._meter = meter
        self._pending = threading.local()

    def write(self, text: str) -> int:
        function = self._meter.current_function()
        if function is not None:
            buffered = getattr(self._pending, "text", "") + text
            *lines, self._pending.text = buffered.split("\n")
            for line in lines:
                self._meter.count_log_line(function, line)
        return self._wrapped.write(text)

    def flush(self) -> None:
        self._wrapped.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wrapped, name)


def _line_level(line: str) -> str:
    try:
        document = json.loads(line)
    except ValueError:
        return ""
    return str(document.get("level", "")).upper() if isinstance(document, dict) else ""


class Meter:
    def __init__(self) -> None:
        self._tally: Tally | None = None
        self._local = threading.local()
        self._specs: dict[str, TableSpec] = {}
        self._patches = contextlib.ExitStack()

    # -- windows -----------------------------------------------------------------------

    @contextlib.contextmanager
    def recording(self) -> Iterator[Tally]:
        """Count into a fresh tally for the duration of the block."""
        tally = Tally()
        self._tally = tally
        try:
            yield tally
        finally:
            self._tally = None

    def counting(self) -> Tally | None:
        """The tally to count into, unless not recording or serving an observer."""
        context: RequestContext | None = getattr(self._local, "request", None)
        if context is not None and context.observer:
            return None
        return self._tally

    def current_function(self) -> str | None:
        name: str | None = getattr(self._local, "function", None)
        return name

    def count_log_line(self, function: str, line: str) -> None:
        tally = self._tally
        if tally is not None:
            tally.add_log_line(function, _line_level(line), len(line.encode("utf-8")))

    # -- hooks -------------------------------------------------------------------------

    def __enter__(self) -> Meter:
        originals: dict[str, Callable[..., Any]] = {
            "call_action": BaseResponse.call_action,
            "invoke": InProcessLambdaRuntime.invoke,
            "handle": LocalGateway.handle,
            **{name: getattr(DynamoDBBackend, name) for name in DYNAMODB_HOOKS},
        }
        patches = self._patches
        patches.enter_context(mock.patch.object(BaseResponse, "call_action", self._call_action(originals)))
        patches.enter_context(mock.patch.object(InProcessLambdaRuntime, "invoke", self._invoke(originals)))
        patches.enter_context(mock.patch.object(LocalGateway, "handle", self._handle(originals)))
        for name, hook in DYNAMODB_HOOKS.items():
            patches.enter_context(mock.patch.object(DynamoDBBackend, name, hook(self, originals[name])))
        # stdout as it is now (e.g. already sent to a log file), counted on the way through
        patches.enter_context(contextlib.redirect_stdout(_AttributingStream(sys.stdout, self)))
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._patches.close()

    def _call_action(self, originals: Mapping[str, Callable[..., Any]]) -> Callable[..., Any]:
        meter, original = self, originals["call_action"]

        def call_action(response: Any) -> Any:
            try:
                action = str(response._get_action() or "")
            except Exception:  # an odd request: moto answers it; it is counted without a name
                action = ""
            context = RequestContext(
                service=str(response.service_name or ""),
                action=action,
                observer=OBSERVER_AGENT in str(response.headers.get("User-Agent") or ""),
                consistent=_consistent_read(action, getattr(response, "body", None)),
            )
            outer, meter._local.request = getattr(meter._local, "request", None), context
            try:
                result = original(response)
            finally:
                meter._local.request = outer
            tally = None if context.observer else meter._tally
            if tally is not None:
                body = result[2] if isinstance(result, tuple) and len(result) == 3 else ""
                payload = max(_size(getattr(response, "raw_body", None) or response.body), _size(body))
                tally.add_request(
                    context.service, action, payload, empty_receive=_empty_receive(action, body)
                )
            return result

        return call_action

    def _invoke(self, originals: Mapping[str, Callable[..., Any]]) -> Callable[..., Any]:
        meter, original = self, originals["invoke"]

        def invoke(runtime: InProcessLambdaRuntime, handler_spec: str, **kwargs: Any) -> Any:
            outer, meter._local.function = meter.current_function(), kwargs["function_name"]
            started = time.perf_counter()
            try:
                result, error_type = original(runtime, handler_spec, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                meter._local.function = outer
            tally = meter._tally
            if tally is not None:
                error_bytes = len(json.dumps(result, default=str)) if error_type is not None else None
                invoker = invoker_of(kwargs.get("event"))
                tally.add_invocation(kwargs["function_name"], elapsed, invoker, error_bytes)
            return result, error_type

        return invoke

    def _handle(self, originals: Mapping[str, Callable[..., Any]]) -> Callable[..., Any]:
        meter, original = self, originals["handle"]

        def handle(gateway: LocalGateway, request: Any) -> Any:
            tally = meter._tally
            if tally is not None:
                tally.add_api_request()
            return original(gateway, request)

        return handle

    # -- DynamoDB ----------------------------------------------------------------------

    def spec(self, table: Any) -> TableSpec:
        if table.name not in self._specs:
            self._specs[table.name] = table_spec(table)
        return self._specs[table.name]

    def context_action(self) -> str:
        context: RequestContext | None = getattr(self._local, "request", None)
        return context.action if context is not None else ""

    def context_consistent(self) -> bool:
        context: RequestContext | None = getattr(self._local, "request", None)
        return context is not None and context.consistent


def _keys(backend: DynamoDBBackend, table: Any, attributes: Mapping[str, Any]) -> tuple[Any, Any]:
    key_names = [name for name in (table.hash_key_attr, table.range_key_attr) if name]
    return backend.get_keys_value(table, {name: attributes[name] for name in key_names if name in attributes})


def _metered_write(operation: str) -> Callable[[Meter, Callable[..., Any]], Callable[..., Any]]:
    """A hook for put_item/update_item/delete_item: price the write from the item before and after."""

    def hook(meter: Meter, original: Callable[..., Any]) -> Callable[..., Any]:
        def write(
            backend: DynamoDBBackend, table_name: str, attributes: Any, *args: Any, **kwargs: Any
        ) -> Any:
            tally = meter.counting()
            if tally is None:
                return original(backend, table_name, attributes, *args, **kwargs)
            table = backend.get_table(table_name)
            spec = meter.spec(table)
            hash_key, range_key = _keys(backend, table, attributes)
            before = _snapshot(table.get_item(hash_key, range_key))
            transactional = meter.context_action() == TRANSACTIONAL_WRITE
            try:
                result = original(backend, table_name, attributes, *args, **kwargs)
            except ConditionalCheckFailed:
                cost = failed_write_cost(spec, before, str(hash_key.value), transactional=transactional)
                tally.add_write(spec.name, operation, cost, succeeded=False)
                raise
            after = None if operation == "delete" else _snapshot(table.get_item(hash_key, range_key))
            cost = write_cost(spec, before, after, transactional=transactional)
            tally.add_write(spec.name, operation, cost, succeeded=True)
            return result

        return write

    return hook


def _stored(table: Any, item: Any) -> Item:
    """The whole stored item behind a (possibly projected) result."""
    full = table.get_item(item.hash_key, item.range_key)
    stored: Item = (full if full is not None else item).to_json()["Attributes"]
    return stored


def _metered_get(meter: Meter, original: Callable[..., Any]) -> Callable[..., Any]:
    def get_item(backend: DynamoDBBackend, table_name: str, keys: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(backend, table_name, keys, *args, **kwargs)
        tally, action = meter.counting(), meter.context_action()
        if tally is None or action not in ITEM_READS:
            return result  # moto's own reads inside a write or a transaction are not requests
        table = backend.get_table(table_name)
        size = item_size(_stored(table, result)) if result is not None else 0
        units = read_units(size, consistent=meter.context_consistent(), transactional=ITEM_READS[action])
        tally.add_read(table.name, "", key_text(keys[table.hash_key_attr]), units, "get")
        return result

    return get_item


def _metered_page(operation: str) -> Callable[[Meter, Callable[..., Any]], Callable[..., Any]]:
    """A hook for query/scan: one page's units from the entries it read."""

    def hook(meter: Meter, original: Callable[..., Any]) -> Callable[..., Any]:
        def page(backend: DynamoDBBackend, table_name: str, *args: Any, **kwargs: Any) -> Any:
            result = original(backend, table_name, *args, **kwargs)
            tally = meter.counting()
            if tally is None:
                return result
            table = backend.get_table(table_name)
            spec = meter.spec(table)
            index_name = kwargs.get("index_name") or ""
            index = next((i for i in spec.indexes if i.name == index_name), None)
            entries = [_stored(table, item) for item in result[0]]
            if index is not None:
                entries = [index.entry(entry, spec.keys) for entry in entries]
            consistent = bool(kwargs.get("consistent_read"))
            units = read_units(sum(item_size(e) for e in entries), consistent=consistent)
            hash_key = index.hash_key if index is not None else spec.hash_key
            hash_value = key_text(entries[0][hash_key]) if entries and hash_key in entries[0] else ""
            tally.add_read(spec.name, index_name, hash_value, units, operation)
            return result

        return page

    return hook


DYNAMODB_HOOKS: dict[str, Callable[[Meter, Callable[..., Any]], Callable[..., Any]]] = {
    "put_item": _metered_write("put"),
    "update_item": _metered_write("update"),
    "delete_item": _metered_write("delete"),
    "get_item": _metered_get,
    "query": _metered_page("query"),
    "scan": _metered_page("scan"),
}
