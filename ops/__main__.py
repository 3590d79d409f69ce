"""``python -m ops redrive ...`` (what ``make redrive`` runs)."""

from __future__ import annotations

import sys

from ops.cli import main

sys.exit(main(sys.argv[1:]))
