"""Run the DOFS Pulumi program (``__main__.py``) under Pulumi's mock runtime.

The same entry point ``pulumi up`` runs, with the chosen stack's ``Pulumi.<stack>.yaml``;
only the engine differs: a ``pulumi.runtime.Mocks`` decides what each resource becomes
(recorded for tests, or created in the local emulator).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import runpy
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from unittest import mock

import pulumi
import yaml

from local.errors import LocalStackError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROGRAM = PROJECT_ROOT / "__main__.py"
PROJECT_NAME = "dofs"


def stack_config(stack: str, root: Path = PROJECT_ROOT) -> dict[str, str]:
    """The config of ``Pulumi.<stack>.yaml`` as Pulumi hands it to the program."""
    path = root / f"Pulumi.{stack}.yaml"
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", stack) or not path.is_file():
        known = ", ".join(sorted(p.name.split(".")[1] for p in root.glob("Pulumi.*.yaml"))) or "none"
        raise LocalStackError(f"unknown stack {stack!r}: no Pulumi.<stack>.yaml for it (stacks: {known})")
    document = yaml.safe_load(path.read_text()) or {}
    return {key: str(value) for key, value in (document.get("config") or {}).items()}


def config_override(raw: str) -> tuple[str, str]:
    """``KEY=VALUE`` from the command line, as ``pulumi config set KEY VALUE`` would take it."""
    key, sep, value = raw.partition("=")
    if not sep or ":" not in key:
        raise argparse.ArgumentTypeError(f"{raw!r}: expected KEY=VALUE, e.g. dofs:fulfillmentSuccessRate=1")
    return key.strip(), value.strip()


def add_config_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    """``--config KEY=VALUE`` (repeatable), for ``run`` and ``smoke`` alike."""
    parser.add_argument(
        "--config", type=config_override, action="append", default=[], metavar="KEY=VALUE", help=help_text
    )


@contextlib.contextmanager
def _program_threads() -> Iterator[None]:
    """Pulumi runs its calls on the event loop's default executor, whose threads would
    outlive the run; this run gets its own executor, shut down when the run ends."""
    try:
        loop = asyncio.get_event_loop()
    except RuntimeError:  # no loop in this thread yet: make the one Pulumi would
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
    executor = ThreadPoolExecutor(thread_name_prefix="pulumi-program")
    loop.set_default_executor(executor)
    try:
        yield
    finally:
        executor.shutdown(wait=True)


def run_program(
    mocks: pulumi.runtime.Mocks, stack: str, overrides: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Run ``__main__.py`` for ``stack`` (its YAML plus ``overrides``); returns its exports."""
    config = {**stack_config(stack), **(overrides or {})}
    pulumi.runtime.set_mocks(mocks, project=PROJECT_NAME, stack=stack, preview=False)
    pulumi.runtime.set_all_config(config)
    exported: dict[str, Any] = {}
    exports: dict[str, Any] = {}
    real_export = pulumi.export

    def _export(name: str, value: Any) -> None:
        exports[name] = value
        real_export(name, value)

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def _run() -> pulumi.Output[Any]:
        with mock.patch.object(pulumi, "export", _export):
            runpy.run_path(str(PROGRAM), run_name="__main__")
        return pulumi.Output.all(**exports).apply(exported.update)

    with _program_threads():
        _run()
    return exported
