"""The drift workflow's step summary: what ``pulumi preview --refresh --json`` would change.

    pulumi preview --stack prod --refresh --expect-no-changes --json | python -m ops.drift_report prod

After a refresh, every step that is not ``same`` is a resource whose cloud state no longer
matches the program: changed, deleted or created outside Pulumi. Prints Markdown.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

UNCHANGED_OPS = frozenset({"same", "read", "refresh"})


@dataclass(frozen=True)
class Drift:
    op: str
    urn: str
    properties: tuple[str, ...]

    @property
    def resource(self) -> str:
        """``type name`` from ``urn:pulumi:stack::project::[parent$]type::name``."""
        qualified_type, name = self.urn.split("::")[2:4]
        return f"{qualified_type.rpartition('$')[2]} {name}"


def drifts(preview: dict[str, Any]) -> list[Drift]:
    return [
        Drift(step["op"], step["urn"], tuple(step.get("diffReasons") or ()))
        for step in preview.get("steps") or ()
        if step.get("op") not in UNCHANGED_OPS
    ]


def report(stack: str, text: str) -> str:
    try:
        preview = json.loads(text) if text.strip() else None
    except json.JSONDecodeError:
        preview = None
    if not isinstance(preview, dict):
        return f"### {stack}: the preview failed before it listed any change (see the job's log)\n"
    found = drifts(preview)
    if not found:
        return f"### {stack}: no drift\n"
    lines = [f"### {stack}: {len(found)} resource(s) drifted from the program", ""]
    lines += ["| change | resource | properties |", "|---|---|---|"]
    lines += [f"| {d.op} | `{d.resource}` | {', '.join(d.properties) or '-'} |" for d in found]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m ops.drift_report STACK < preview.json", file=sys.stderr)
        return 2
    sys.stdout.write(report(argv[0], sys.stdin.read()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
