"""Command line of the local stack.

python -m local run [--port 8080] [--aws-port 4566] [--console-port 8081] [--stack dev]
                    [--config KEY=VALUE ...] [--fault POINT=RATE ...] [--fault-seed N]
                    [--schedule-every SECONDS]
python -m local smoke --url URL [--stack dev]
python -m local resources [STACK ...]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn, TextIO

from components.config import StackConfigError
from handlers.faults import FaultPlan, FaultPoint
from local import resources, smoke
from local.console import StatusBoard, banner, configure_logging
from local.errors import LocalStackError
from local.pulumi_runner import PROJECT_ROOT, add_config_option
from local.stack import DEFAULT_API_PORT, DEFAULT_AWS_PORT, LocalStack, LocalStackOptions
from local.web_console.server import console_listener, start_console

LOG_DIR = PROJECT_ROOT / "build" / "local"


def _port(raw: str) -> int:
    port = int(raw)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{raw}: a port is 0-65535 (0 picks a free one)")
    return port


FAULT_POINTS = ", ".join(point.value for point in FaultPoint)


def _fault(raw: str) -> tuple[FaultPoint, float]:
    point, _, rate = raw.partition("=")
    try:
        parsed = FaultPoint(point.strip()), float(rate)
    except ValueError:
        parsed = None
    if parsed is None or not 0 <= parsed[1] <= 1:
        raise argparse.ArgumentTypeError(
            f"{raw!r}: expected POINT=RATE, RATE from 0 to 1, POINT one of {FAULT_POINTS}"
        )
    return parsed


def _positive_seconds(raw: str) -> float:
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise argparse.ArgumentTypeError(f"{raw!r}: expected a number of seconds above 0, e.g. 2 or 0.5")
    return seconds


class UsageError(Exception):
    """A bad command line, reported in one ``error:`` line like every other start-up error."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def run_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m local run", description="Run DOFS on a local AWS emulator.")
    parser.add_argument("--port", type=_port, default=DEFAULT_API_PORT, help="order API port (default 8080)")
    parser.add_argument(
        "--aws-port", type=_port, default=DEFAULT_AWS_PORT, help="AWS emulator port (default 4566)"
    )
    parser.add_argument(
        "--console-port",
        type=_port,
        help="local console port (default 8081, or a free one when 8081 is taken)",
    )
    parser.add_argument("--stack", default="dev", help="which Pulumi.<stack>.yaml to use (default dev)")
    add_config_option(parser, "override a stack setting for this run, like `pulumi config set` (repeatable)")
    parser.add_argument("--log-file", type=Path, help="default build/local/<stack>.log")
    parser.add_argument(
        "--outputs-file",
        type=Path,
        help="stack outputs as JSON, written once the API is up (default build/local/<stack>-outputs.json)",
    )
    parser.add_argument(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        metavar="POINT=RATE",
        help=f"inject a fault: POINT fails with probability RATE (0 to 1) each time it is reached "
        f"(repeatable; off unless given). POINT is one of {FAULT_POINTS}",
    )
    parser.add_argument(
        "--fault-seed",
        type=int,
        metavar="N",
        help="seed the faults' random draws (the same rates per point; which request draws a fault "
        "still depends on timing)",
    )
    parser.add_argument(
        "--schedule-every",
        type=_positive_seconds,
        metavar="SECONDS",
        help="run every EventBridge schedule (the reconciler's) this often, instead of at its rate",
    )
    return parser


def fault_plan(args: argparse.Namespace) -> FaultPlan | None:
    """The plan the fault options give, or None without ``--fault``."""
    if not args.fault:
        if args.fault_seed is not None:
            raise UsageError("argument --fault-seed: needs at least one --fault POINT=RATE")
        return None
    return FaultPlan(seed=args.fault_seed, rates=dict(args.fault))


def parse_run_arguments(argv: list[str]) -> tuple[argparse.Namespace, LocalStackOptions]:
    """The command line and the stack options it asks for; ``UsageError`` when it is wrong."""
    args = run_parser().parse_args(argv)
    options = LocalStackOptions(
        args.stack,
        args.port,
        args.aws_port,
        dict(args.config),
        faults=fault_plan(args),
        schedule_every_seconds=args.schedule_every,
    )
    return args, options


class _StopRequested(BaseException):
    """Raised in the main thread by SIGINT/SIGTERM; a BaseException, so that no
    ``except Exception`` on the way (asyncio's, during the deploy) swallows it."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _StopRequested(signal.Signals(signum).name)


@contextlib.contextmanager
def _signals(handler: Any) -> Iterator[None]:
    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _write_outputs(path: Path, stack: LocalStack, console_url: str) -> None:
    """Atomically, so that a reader waiting for the file never sees half of it."""
    partial = path.with_name(f".{path.name}.partial")
    partial.parent.mkdir(parents=True, exist_ok=True)
    local = {"aws_endpoint": stack.aws_endpoint, "aws_region": stack.region, "console_url": console_url}
    partial.write_text(json.dumps({**stack.outputs, **local}))
    os.replace(partial, path)


def _start(options: LocalStackOptions, console: TextIO) -> LocalStack | int:
    """The started stack, or the exit status when it could not start."""
    try:
        print(f"starting DOFS locally (stack '{options.stack}')...", file=console, flush=True)
        return LocalStack(options).start()
    except (LocalStackError, StackConfigError) as exc:
        print(f"error: {exc}", file=console, flush=True)
        return 2
    except _StopRequested:
        return 130
    except Exception as exc:
        logging.getLogger("dofs.local").exception("the local stack could not start")
        print(f"error: the local stack could not start: {exc}", file=console, flush=True)
        return 1


def _serve(
    stack: LocalStack,
    args: argparse.Namespace,
    console: TextIO,
    log_file: Path,
    started: float,
    *,
    console_socket: socket.socket,
) -> None:
    board = StatusBoard(stack, console)
    web_console = start_console(console_socket, stack)
    try:
        outputs_file: Path = args.outputs_file or LOG_DIR / f"{args.stack}-outputs.json"
        print(banner(stack, log_file, outputs_file, web_console.url), file=console, flush=True)
        print(f"(ready in {time.monotonic() - started:.1f} s)", file=console, flush=True)
        _write_outputs(outputs_file, stack, web_console.url)
        board.start()
        threading.Event().wait()
    except _StopRequested:
        print("\nstopping...", file=console, flush=True)
    finally:
        with _signals(signal.SIG_IGN):  # a second Ctrl-C must not cut the clean-up short
            if board.is_alive():
                board.stop()
            web_console.stop()
            stack.stop()


def run(argv: list[str], console: TextIO) -> int:
    try:
        args, options = parse_run_arguments(argv)
    except UsageError as exc:
        print(f"error: {exc}", file=console, flush=True)
        return 2
    try:  # bound first, so a busy --console-port fails before anything starts
        console_socket = console_listener(args.console_port)
    except LocalStackError as exc:
        print(f"error: {exc}", file=console, flush=True)
        return 2
    log_file: Path = args.log_file or LOG_DIR / f"{args.stack}.log"
    started = time.monotonic()
    log_stream = configure_logging(log_file, console)
    with _signals(_raise_stop), contextlib.redirect_stdout(log_stream):
        stack = _start(options, console)
        if isinstance(stack, int):
            console_socket.close()
            return stack
        _serve(stack, args, console, log_file, started, console_socket=console_socket)
    print("stopped.", file=console, flush=True)
    return 0


USAGE = "usage: python -m local {run,smoke,resources} [options]   (--help after a command for its options)"


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "run":
        return run(rest, sys.stdout)
    if command == "smoke":
        return smoke.main(rest)
    if command == "resources":
        return resources.main(rest)
    print(f"unknown command {command!r}; {USAGE}", file=sys.stderr)
    return 2
