"""The runner of `make test`: every tier found, longest first, counts summed, failures shown."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from tests import tiers


def test_every_test_directory_is_a_tier_and_runs_after_the_static_checks_it_outlasts() -> None:
    names = [check.name for check in tiers.all_checks()]

    found = sorted(p.name for p in tiers.TESTS.iterdir() if p.is_dir() and list(p.glob("test_*.py")))
    assert set(found) <= set(names), "a tier on disk that make test would not run"
    assert {"lint", "format", "typecheck", "unit", "integration"} <= set(names)
    assert names[0] == "integration", "the longest check starts first"


def test_a_waiting_tier_runs_on_several_workers_module_by_module() -> None:
    check = tiers.pytest_check("integration")

    assert int(check.argv[check.argv.index("-n") + 1]) > 1
    assert check.argv[check.argv.index("--dist") + 1] == "loadscope"
    assert "-n" not in tiers.pytest_check("infra").argv


@pytest.mark.parametrize(
    ("log", "counts"),
    [
        ("==== 12 passed, 1 skipped in 3.20s ====", {"passed": 12, "skipped": 1}),
        ("== 2 failed, 40 passed, 1 error in 10.01s ==", {"failed": 2, "passed": 40, "error": 1}),
        ("ruff: All checks passed!", {}),
    ],
)
def test_counts_are_read_from_pytests_closing_line(log: str, counts: dict[str, int]) -> None:
    assert tiers.counts_of("collected\n" + log + "\n") == counts


def test_the_table_sums_every_tier_and_counts_a_failed_static_check(
    capsys: pytest.CaptureFixture[str],
) -> None:
    lint = tiers.Check("lint", ("ruff",))
    unit = tiers.Check("unit", ("pytest",))
    outcomes = [
        tiers.Outcome(lint, 1, 2.0),
        tiers.Outcome(unit, 0, 30.0, {"passed": 10}),
        tiers.Outcome(tiers.Check("infra", ()), 1, 5.0, {"passed": 3, "failed": 1}),
    ]

    lines = tiers.table(outcomes, wall=31.0)

    assert lines[-1] == "13 passed, 2 failed"
    assert [line.split()[0] for line in lines[3:6]] == ["unit", "infra", "lint"], "slowest first"


def test_a_failing_check_shows_its_log_tail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(tiers, "LOGS", tmp_path)
    check = tiers.Check("demo", (sys.executable, "-c", "print('the reason it failed'); raise SystemExit(3)"))

    outcome = tiers.run(check, threading.Lock())

    assert outcome.returncode == 3 and not outcome.ok
    printed = capsys.readouterr().out
    assert "demo" in printed and "FAILED (exit 3)" in printed
    assert "| the reason it failed" in printed
    assert (tmp_path / "demo.log").read_text().strip() == "the reason it failed"
