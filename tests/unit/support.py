"""Helpers shared by the unit tests: JSON text with exact numbers, events, seeded orders, fakes."""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from handlers import aws
from handlers.models import DUE_AT, IN_FLIGHT_SHARD, IN_FLIGHT_STATUSES, in_flight_shard, parse_json_decimal

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

ORDERS_TABLE = "dofs-orders-test"
FAILED_ORDERS_TABLE = "dofs-failed-orders-test"
STATE_MACHINE_NAME = "dofs-order-processing-test"
ORDER_QUEUE_NAME = "dofs-order-queue-test"


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text()


def fixture_data(name: str) -> Any:
    """A JSON fixture with every non-integer number read as ``Decimal``."""
    return parse_json_decimal(fixture_text(name))


@dataclass(frozen=True)
class Raw:
    """A JSON token written verbatim (``NaN``, ``1e400``, ...), for bodies ``json`` cannot produce."""

    text: str


def json_text(value: Any) -> str:
    """JSON for test bodies: ``Decimal`` written as a JSON number, digit for digit, never via float."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {json_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(json_text(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float):
        raise TypeError("tests build bodies from Decimal, never float")
    return json.dumps(value)


def find_floats(value: Any, path: str = "$") -> list[str]:
    """Paths of every ``float`` inside ``value``; money must never be one."""
    if isinstance(value, float):
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in find_floats(v, f"{path}.{k}")]
    if isinstance(value, list | tuple):
        return [p for i, v in enumerate(value) for p in find_floats(v, f"{path}[{i}]")]
    return []


def api_event(
    method: str = "POST",
    path: str = "/order",
    body: str | None = None,
    headers: dict[str, str] | None = None,
    *,
    base64_body: bytes | None = None,
    content_type: str | None = "application/json",
) -> dict[str, Any]:
    """An API Gateway REST (v1) proxy event, built on the recorded fixture."""
    event: dict[str, Any] = copy.deepcopy(fixture_data("api_post_order_event.json"))
    event["httpMethod"] = method
    event["path"] = path
    event["resource"] = "/orders/{order_id}" if path.startswith("/orders/") else path
    event["requestContext"]["httpMethod"] = method
    event["requestContext"]["resourcePath"] = event["resource"]
    merged = {k: v for k, v in event["headers"].items() if k.lower() != "content-type"}
    if content_type is not None:
        merged["Content-Type"] = content_type
    merged.update(headers or {})
    event["headers"] = merged
    if base64_body is not None:
        event["body"] = base64.b64encode(base64_body).decode("ascii")
        event["isBase64Encoded"] = True
    else:
        event["body"] = body
        event["isBase64Encoded"] = False
    return event


def response_json(response: dict[str, Any]) -> Any:
    assert response["headers"]["Content-Type"] == "application/json"
    return json.loads(response["body"])


def sqs_record(message_id: str, body: str, receive_count: int = 1) -> dict[str, Any]:
    template: dict[str, Any] = copy.deepcopy(fixture_data("sqs_event.json")["Records"][0])
    template["messageId"] = message_id
    template["receiptHandle"] = f"handle-{message_id}"
    template["body"] = body
    template["attributes"]["ApproximateReceiveCount"] = str(receive_count)
    return template


def sqs_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def order_message(order_id: str) -> str:
    return json.dumps({"order_id": order_id})


def seed_order(table: Any, order_id: str, status: str, **fields: Any) -> dict[str, Any]:
    """Write an order item directly, as an earlier workflow step would have left it: an order
    in flight is in the in-flight index, due long ago unless ``due_at`` says otherwise."""
    item: dict[str, Any] = {
        "order_id": order_id,
        "status": status,
        "created_at": "2024-01-01T00:00:00.000Z",
        "updated_at": "2024-01-01T00:00:00.000Z",
        "request_body": fixture_text("valid_order.json"),
        "request_sha256": "0" * 64,
        "fulfillment_attempts": 0,
    }
    if status in IN_FLIGHT_STATUSES:
        item |= {IN_FLIGHT_SHARD: in_flight_shard(order_id), DUE_AT: "2024-01-01T00:00:00.000Z"}
    item |= fields
    table.put_item(Item=item)
    return item


def get_item(table: Any, key: str) -> dict[str, Any] | None:
    item: dict[str, Any] | None = table.get_item(Key={"order_id": key}, ConsistentRead=True).get("Item")
    return item


def scan_all(table: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = table.scan(ConsistentRead=True)["Items"]
    return items


def queue_bodies(sqs: Any, queue_url: str) -> list[Any]:
    """The parsed bodies of every message on the queue (received, so not visible again)."""
    bodies: list[Any] = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return bodies
        bodies += [json.loads(message["Body"]) for message in messages]


def client_error(code: str, operation: str = "PutItem") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"simulated {code}"}}, operation)


class FailingTable:
    """Stands in for a boto3 ``Table`` whose every call fails with one error."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls: list[str] = []

    def _fail(self, operation: str) -> Any:
        self.calls.append(operation)
        raise self.error

    def get_item(self, **kwargs: Any) -> Any:
        return self._fail("get_item")

    def put_item(self, **kwargs: Any) -> Any:
        return self._fail("put_item")

    def update_item(self, **kwargs: Any) -> Any:
        return self._fail("update_item")

    def delete_item(self, **kwargs: Any) -> Any:
        return self._fail("delete_item")

    def query(self, **kwargs: Any) -> Any:
        return self._fail("query")


class FailingResource:
    """Stands in for ``boto3.resource("dynamodb")``: every table it hands out fails."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def Table(self, name: str) -> FailingTable:  # noqa: N802 - boto3's spelling
        return FailingTable(self.error)


class PartlyFailingResource:
    """Real (moto) tables whose listed operations fail with ``error``; the others work."""

    def __init__(self, dynamodb: Any, error: Exception, operations: frozenset[str]) -> None:
        self.dynamodb = dynamodb
        self.error = error
        self.operations = operations

    def Table(self, name: str) -> Any:  # noqa: N802 - boto3's spelling
        return _PartlyFailingTable(self.dynamodb.Table(name), self.error, self.operations)


class _PartlyFailingTable:
    def __init__(self, table: Any, error: Exception, operations: frozenset[str]) -> None:
        self._table = table
        self._error = error
        self._operations = operations

    def __getattr__(self, operation: str) -> Any:
        if operation in self._operations:

            def fail(**kwargs: Any) -> Any:
                raise self._error

            return fail
        return getattr(self._table, operation)


def _json_lines(out: str) -> list[dict[str, Any]]:
    """Every line a handler wrote to stdout, each of which must be one JSON object."""
    lines = [line for line in out.splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]
    assert all(isinstance(entry, dict) for entry in entries), entries
    return entries


def log_lines(out: str) -> list[dict[str, Any]]:
    """The log entries a handler wrote to stdout: every JSON line but the EMF metrics (``_aws``)."""
    return [entry for entry in _json_lines(out) if "_aws" not in entry]


@dataclass(frozen=True)
class EmittedMetric:
    """One metric of an EMF line, as CloudWatch reads it."""

    namespace: str
    name: str
    unit: str
    dimensions: dict[str, str]
    values: tuple[float, ...]


def emitted_metrics(out: str) -> list[EmittedMetric]:
    """The metrics in the EMF lines a handler wrote to stdout, one per name and dimension set."""
    found = []
    for entry in _json_lines(out):
        if "_aws" not in entry:
            continue
        for directive in entry["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                dimensions = {name: entry[name] for name in dimension_set}
                for metric in directive["Metrics"]:
                    raw = entry[metric["Name"]]
                    values = tuple(raw) if isinstance(raw, list) else (raw,)
                    namespace, name, unit = directive["Namespace"], metric["Name"], metric["Unit"]
                    found.append(EmittedMetric(namespace, name, unit, dimensions, values))
    return found


def metric_total(out: str, name: str, **dimensions: str) -> float:
    """The sum of the values of metric ``name`` whose dimensions include ``dimensions``."""
    return sum(
        sum(metric.values)
        for metric in emitted_metrics(out)
        if metric.name == name and dimensions.items() <= metric.dimensions.items()
    )


def logged(out: str, message: str) -> list[dict[str, Any]]:
    """The JSON log entries with this ``message``."""
    return [entry for entry in log_lines(out) if entry["message"] == message]


def fail_dynamodb(monkeypatch: pytest.MonkeyPatch, code: str) -> None:
    """Every DynamoDB request the handlers make fails with the AWS error ``code``."""
    monkeypatch.setattr(aws, "dynamodb_resource", lambda: FailingResource(client_error(code)))


HANDLER_SERVICES = (
    "api_handler",
    "validator",
    "order_storage",
    "fulfill_order",
    "dlq_processor",
    "reconciler",
)


@contextlib.contextmanager
def handler_loggers_at(level: int) -> Iterator[None]:
    """Every handler's logger at ``level`` (they were made at import, under whatever
    LOG_LEVEL was set then), and back as they were afterwards."""
    loggers = [logging.getLogger(f"dofs.{service}") for service in HANDLER_SERVICES]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(level)
    try:
        yield
    finally:
        for logger, previous in zip(loggers, levels, strict=True):
            logger.setLevel(previous)
