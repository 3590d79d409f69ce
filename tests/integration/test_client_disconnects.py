"""Clients that give up early, or send nonsense, leave one line each in the log file and
nothing on the terminal of ``python -m local run``, where only the counters update."""

from __future__ import annotations

import re
import socket
import struct
import time
from urllib.parse import urlsplit

from tests.integration.stack_process import StackProcess

LOG_DEADLINE_SECONDS = 30.0
READY_LINE = re.compile(r"^\(ready in [\d.]+ s\)$")
# Counter lines and one-line problem reports alike start with the time.
TIMESTAMPED_LINE = re.compile(r"^\d\d:\d\d:\d\d  \S")
EMPTY_ORDER = (
    b"POST /order HTTP/1.1\r\nHost: local\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
)
HALF_A_BODY = b'POST /order HTTP/1.1\r\nHost: local\r\nContent-Length: 100\r\n\r\n{"customer_id"'
GARBAGE = b"NOT AN HTTP REQUEST\r\n\r\n"


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def _send_and_hang_up(address: tuple[str, int], request: bytes, *, reset: bool = False) -> int:
    """Send ``request`` and close at once, without reading; returns the client's port.

    ``reset`` aborts the connection (RST) instead of closing it in order (FIN).
    """
    client = socket.create_connection(address, timeout=5)
    port: int = client.getsockname()[1]
    client.sendall(request)
    if reset:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()
    return port


def _wait_for_log_lines(stack: StackProcess, patterns: list[str]) -> list[str]:
    """The log file's lines, once every pattern matches one of them; fails at the deadline."""
    deadline = time.monotonic() + LOG_DEADLINE_SECONDS
    while True:
        lines = stack.log_file.read_text(errors="replace").splitlines()
        missing = [p for p in patterns if not any(re.search(p, line) for line in lines)]
        if not missing:
            return lines
        if time.monotonic() > deadline:
            raise AssertionError(f"not in the log file: {missing}\nterminal:\n{stack.console}")
        time.sleep(0.1)


def _send_and_hang_up_answered(address: tuple[str, int]) -> int:
    """A request the server answers (an empty order: 422, nothing stored), hung up on before
    the answer, as a client that gives up does; the answer's writes then fail."""
    return _send_and_hang_up(address, EMPTY_ORDER)


def test_disconnects_and_bad_requests_are_one_log_line_each_and_nothing_on_the_terminal(
    dev_stack: StackProcess,
) -> None:
    api, emulator = _address(dev_stack.api_url), _address(dev_stack.outputs["aws_endpoint"])
    gave_up = [_send_and_hang_up_answered(api) for _ in range(20)]
    half_sent = _send_and_hang_up(api, HALF_A_BODY)
    emulator_gave_up = [_send_and_hang_up(emulator, HALF_A_BODY), _send_and_hang_up_answered(emulator)]
    for address in (api, emulator):
        _send_and_hang_up(address, GARBAGE)
        _send_and_hang_up(address, b"GET /hea", reset=True)

    lines = _wait_for_log_lines(
        dev_stack,
        [
            rf"dofs\.local\.gateway: client 127\.0\.0\.1:{half_sent} went away after 14 of 100 body bytes; "
            r"POST /order not forwarded$",
            *[
                rf"dofs\.local\.gateway: client 127\.0\.0\.1:{port} went away before the response was sent: "
                r"(BrokenPipeError|ConnectionResetError): "
                for port in gave_up
            ],
            *[rf"dofs\.local\.emulator: client 127\.0\.0\.1:{port} went away " for port in emulator_gave_up],
        ],
    )

    assert not [line for line in lines if line.startswith("Traceback")]
    terminal = dev_stack.console
    for text in ("Traceback", "BrokenPipeError", "ConnectionResetError", "Exception occurred"):
        assert text not in terminal, terminal
    after_banner = terminal.splitlines()
    ready = next(i for i, line in enumerate(after_banner) if READY_LINE.match(line))
    assert all(TIMESTAMPED_LINE.match(line) for line in after_banner[ready + 1 :]), terminal
