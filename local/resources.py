"""``python -m local resources [STACK ...]`` (``make resources``): every resource ``pulumi up``
would create in each stack, with the settings that differ between the stacks.

The program runs under Pulumi's mocks (no CLI, no cloud) with each ``Pulumi.<stack>.yaml``.
A resource is listed with its type, its Pulumi name and its AWS name, then each input
whose value is not the same in every stack listed: a table's deletion protection, a
function's memory, a queue's ``maxReceiveCount``. The stack's own name inside a value
(``dofs-orders-dev``) is not a difference.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import pulumi

from components.config import StackConfigError
from local.errors import LocalStackError
from local.pulumi_runner import PROJECT_ROOT, stack_config
from local.recorded_program import ProgramRun, RecordedResource, record_program

USAGE = "usage: python -m local resources [STACK ...]   (default: every Pulumi.<stack>.yaml)"
ResourceKey = tuple[str, str]  # (type, Pulumi name): the same resource in every stack


def flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``(dotted.path, leaf)`` for every leaf; a string holding a JSON object or list is opened."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        with contextlib.suppress(ValueError):
            value = json.loads(value)
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from flatten(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from flatten(item, f"{prefix}[{index}]")
    else:
        yield prefix, value


def _comparable(value: Any, stack: str) -> Any:
    if isinstance(value, pulumi.FileArchive | pulumi.FileAsset):
        return f"file:{value.path}"
    if isinstance(value, str):
        return re.sub(rf"\b{re.escape(stack)}\b", "<stack>", value)
    return value


def _settings(resource: RecordedResource, stack: str) -> dict[str, Any]:
    return {path: _comparable(leaf, stack) for path, leaf in flatten(resource.inputs)}


def differing_settings(runs: Sequence[ProgramRun]) -> dict[ResourceKey, list[str]]:
    """Per resource, the inputs whose values are not the same in every run that declares it."""
    seen: dict[ResourceKey, list[dict[str, Any]]] = {}
    for run in runs:
        for resource in run.resources:
            seen.setdefault((resource.type, resource.name), []).append(_settings(resource, run.stack))
    missing = object()
    differing = {}
    for key, versions in seen.items():
        paths = sorted({path for version in versions for path in version})
        differing[key] = [path for path in paths if len({repr(v.get(path, missing)) for v in versions}) > 1]
    return differing


def render(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, pulumi.FileArchive | pulumi.FileAsset):
        return str(value.path)
    return str(value)


AWS_NAME_INPUTS = ("name", "layerName", "stageName")


def aws_name(resource: RecordedResource) -> str:
    """The name the resource gets in AWS, or ``-`` where AWS (or Pulumi) makes one up."""
    names = [resource.inputs.get(key) for key in AWS_NAME_INPUTS]
    return next((name for name in names if isinstance(name, str)), "-")


def listing(runs: Sequence[ProgramRun]) -> list[str]:
    """The lines ``python -m local resources`` prints for ``runs``."""
    differing = differing_settings(runs)
    names = [run.stack for run in runs]
    declared_in = {
        key: [run.stack for run in runs if any((r.type, r.name) == key for r in run.resources)]
        for key in differing
    }
    everything = [resource for run in runs for resource in run.resources]
    widths = [
        max((len(text) for text in texts), default=0)
        for texts in (
            ["TYPE", *(r.type for r in everything)],
            ["NAME", *(r.name for r in everything)],
            ["AWS NAME", *(aws_name(r) for r in everything)],
        )
    ]
    compared = f"settings that differ between {', '.join(names)}" if len(runs) > 1 else "one stack"
    lines = []
    for run in runs:
        aws = sum(r.type.startswith("aws:") for r in run.resources)
        lines.append(
            f"stack {run.stack}: {len(run.resources)} resources "
            f"({aws} AWS, {len(run.resources) - aws} components); {compared}"
        )
        lines.append(_row(widths, "TYPE", "NAME", "AWS NAME", ["SETTINGS" if len(runs) > 1 else ""]))
        for resource in sorted(run.resources, key=lambda r: (r.type, r.name)):
            key = (resource.type, resource.name)
            values = dict(flatten(resource.inputs))
            shown = [
                f"{path}={render(values[path]) if path in values else '(unset)'}" for path in differing[key]
            ]
            if len(declared_in[key]) < len(runs):
                shown.insert(0, f"(only in {', '.join(declared_in[key])})")
            lines.append(_row(widths, resource.type, resource.name, aws_name(resource), shown))
        lines.append("")
    return lines[:-1]


def _row(widths: list[int], typ: str, name: str, physical: str, settings: list[str]) -> str:
    columns = (f"{text:<{width}}" for text, width in zip((typ, name, physical), widths, strict=True))
    return ("  " + "  ".join([*columns, " ".join(settings)])).rstrip()


def known_stacks(root: Path = PROJECT_ROOT) -> list[str]:
    return sorted(path.name.split(".")[1] for path in root.glob("Pulumi.*.yaml"))


def main(argv: list[str], out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    if any(arg.startswith("-") for arg in argv):
        print(USAGE, file=out if argv in (["-h"], ["--help"]) else err)
        return 0 if argv in (["-h"], ["--help"]) else 2
    stacks = argv or known_stacks()
    try:
        for stack in stacks:
            stack_config(stack)  # an unknown stack stops before any program runs
        runs = [record_program(stack) for stack in stacks]
    except (LocalStackError, StackConfigError) as exc:
        print(f"error: {exc}", file=err)
        return 2
    for line in listing(runs):
        print(line, file=out)
    return 0
