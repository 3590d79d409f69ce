"""``python -m local run`` (what ``make run`` starts) and ``python -m local smoke``."""

from __future__ import annotations

import sys

from local.cli import main

sys.exit(main(sys.argv[1:]))
