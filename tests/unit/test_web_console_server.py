"""The console server's edge: its files, its JSON errors, and bad requests refused by name."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any, cast

import pytest

from local.stack import listening_socket
from local.web_console.server import ConsoleServer
from local.web_console.source import StackSource


class RecordingSource:
    """Stands in for the stack: answers what the server asks, remembers redrives."""

    def __init__(self) -> None:
        self.redrives: list[tuple[list[str] | None, bool]] = []

    def redrive(self, order_ids: list[str] | None, dlq: bool) -> dict[str, Any]:
        self.redrives.append((order_ids, dlq))
        return {"redriven": order_ids or []}


@pytest.fixture
def console() -> Iterator[tuple[str, RecordingSource]]:
    source = RecordingSource()
    server = ConsoleServer(listening_socket(0, "--console-port"), cast(StackSource, source)).start()
    yield server.url, source
    server.stop()


def call(url: str, body: bytes | None = None) -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, data=body, method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


@pytest.mark.parametrize(("path", "kind"), [("/", "text/html"), ("/static/app.js", "text/javascript")])
def test_the_page_and_its_assets_are_served_from_the_package(
    console: tuple[str, RecordingSource], path: str, kind: str
) -> None:
    status, content_type, body = call(console[0] + path)

    assert (status, content_type.split(";")[0]) == (200, kind)
    assert b"cdn" not in body.lower() and b"https://" not in body


@pytest.mark.parametrize("path", ["/static/../server.py", "/static/%2e%2e/source.py", "/api/nothing"])
def test_anything_else_is_a_json_404(console: tuple[str, RecordingSource], path: str) -> None:
    status, content_type, body = call(console[0] + path)

    assert (status, content_type) == (404, "application/json")
    assert json.loads(body)["error"] == "not_found"


@pytest.mark.parametrize(
    ("body", "status", "named"),
    [
        (b"{not json", 400, "not JSON"),
        (b"[]", 400, "JSON object"),
        (b'{"order_ids": "o-1"}', 422, "order_ids"),
        (b'{"order_ids": [""]}', 422, "order_ids"),
    ],
)
def test_a_bad_redrive_request_is_refused_naming_the_problem(
    console: tuple[str, RecordingSource], body: bytes, status: int, named: str
) -> None:
    url, source = console
    got, _, answer = call(url + "/api/redrive", body)

    assert got == status
    assert named in json.loads(answer)["message"]
    assert source.redrives == []


def test_an_order_to_try_must_be_json_text(console: tuple[str, RecordingSource]) -> None:
    status, _, answer = call(console[0] + "/api/orders", b'{"body": {"customer_id": "c"}}')

    assert status == 422
    assert "body" in json.loads(answer)["message"]
