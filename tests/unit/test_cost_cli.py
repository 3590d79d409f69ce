"""The cost command's line (benchmarks/cost/cli.py): bad input is refused before anything starts."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest

from benchmarks.cost.cli import main, options_from, parser


def test_the_defaults_are_500_orders_of_the_dev_stack_with_a_tenth_rejected() -> None:
    options = options_from(parser().parse_args([]))
    assert (options.stack, options.orders, options.rejected_share) == ("dev", 500, Decimal("0.1"))


def test_options_pass_through() -> None:
    args = "--stack prod --orders 20 --config dofs:workflowType=EXPRESS --cold-start-every 50"
    options = options_from(parser().parse_args(args.split()))
    assert (options.stack, options.orders, options.cold_start_every) == ("prod", 20, 50)
    assert options.config == {"dofs:workflowType": "EXPRESS"}


def test_a_region_without_prices_is_refused_before_the_stack_starts() -> None:
    out = io.StringIO()
    assert main(["--region", "eu-north-1"], out) == 1
    expected = "error: no prices are kept for region 'eu-north-1' (only for ap-south-1, us-east-1)\n"
    assert out.getvalue() == expected


def test_an_unknown_stack_is_named() -> None:
    out = io.StringIO()
    assert main(["--stack", "staging"], out) == 1
    assert "unknown stack 'staging'" in out.getvalue()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--orders", "0"], "'0': expected a whole number of at least 1"),
        (["--rejected-share", "1"], "'1': expected a share from 0 to below 1"),
        (["--config", "workflowType"], "expected KEY=VALUE"),
    ],
)
def test_bad_arguments_are_a_usage_error_naming_the_value(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv, io.StringIO())
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
