"""``python -m local run``'s fault and schedule options: what they ask of the stack, and
one ``error:`` line (exit 2) for a bad value, before anything starts."""

from __future__ import annotations

import io

import pytest

from handlers.faults import FaultPlan, FaultPoint
from local import cli

VALID_POINTS = ", ".join(p.value for p in FaultPoint)


def test_faults_and_schedule_options_become_stack_options() -> None:
    _, options = cli.parse_run_arguments(
        [
            "--fault",
            "validator=0.1",
            "--fault",
            "enqueue=1",
            "--fault",
            "duplicate_delivery=0",
            "--fault-seed",
            "7",
            "--schedule-every",
            "0.5",
        ]
    )

    assert options.faults == FaultPlan(
        seed=7,
        rates={FaultPoint.VALIDATOR: 0.1, FaultPoint.ENQUEUE: 1.0, FaultPoint.DUPLICATE_DELIVERY: 0.0},
    )
    assert options.schedule_every_seconds == 0.5


def test_without_fault_options_there_is_no_plan() -> None:
    _, options = cli.parse_run_arguments([])

    assert options.faults is None
    assert options.schedule_every_seconds is None


def test_a_repeated_point_takes_its_last_rate() -> None:
    _, options = cli.parse_run_arguments(["--fault", "enqueue=0.5", "--fault", "enqueue=0.25"])

    assert options.faults is not None
    assert options.faults.rates == {FaultPoint.ENQUEUE: 0.25}


def _refused(argv: list[str]) -> list[str]:
    console = io.StringIO()
    assert cli.run(argv, console) == 2
    return console.getvalue().splitlines()


@pytest.mark.parametrize(
    "value",
    ["validator", "validator=", "validator=1.5", "validator=-0.1", "validator=nan", "nosuch=0.5", "=1"],
)
def test_a_bad_fault_is_one_error_line_naming_the_option_and_the_points(value: str) -> None:
    expected = f"expected POINT=RATE, RATE from 0 to 1, POINT one of {VALID_POINTS}"

    assert _refused(["--fault", value]) == [f"error: argument --fault: {value!r}: {expected}"]


@pytest.mark.parametrize("value", ["0", "-1", "soon", "inf"])
def test_a_schedule_interval_must_be_a_positive_number(value: str) -> None:
    assert _refused(["--schedule-every", value]) == [
        f"error: argument --schedule-every: {value!r}: expected a number of seconds above 0, e.g. 2 or 0.5"
    ]


def test_a_seed_without_faults_is_refused() -> None:
    assert _refused(["--fault-seed", "7"]) == [
        "error: argument --fault-seed: needs at least one --fault POINT=RATE"
    ]


def test_a_seed_must_be_an_integer() -> None:
    (line,) = _refused(["--fault", "enqueue=1", "--fault-seed", "x"])

    assert line.startswith("error: argument --fault-seed: invalid int value")
