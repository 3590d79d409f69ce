"""Print what ``pulumi up`` would create for each stack, by running the program under mocks.

python -m tests.support.inventory dev prod
"""

from __future__ import annotations

import sys
from collections import Counter

from tests.support.pulumi_program import run_program


def main(stacks: list[str]) -> None:
    for stack in stacks:
        run = run_program(stack)
        counts = Counter(r.type for r in run.resources)
        aws_total = sum(n for t, n in counts.items() if t.startswith("aws:"))
        components = len(run.resources) - aws_total
        print(f"stack {stack}: {len(run.resources)} resources ({aws_total} AWS, {components} components)")
        for typ, count in sorted(counts.items()):
            print(f"  {count:3d}  {typ}")


if __name__ == "__main__":
    main(sys.argv[1:] or ["dev", "prod"])
