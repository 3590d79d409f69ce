"""observability: one JSON object per line, at the level AWS_LAMBDA_LOG_LEVEL or LOG_LEVEL names."""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Callable, Iterator

import pytest
from aws_lambda_powertools.logging import Logger

from handlers.errors import ConfigurationError
from handlers.observability import LOG_LEVELS, get_logger, log_level
from tests.unit.support import log_lines

_names = itertools.count()


def level_of(logger: Logger) -> int:
    """The level of the standard logger under Powertools' (named ``dofs.<service>``)."""
    return logging.getLogger(logger.service).level


@pytest.fixture
def fresh_logger() -> Iterator[Callable[[], Logger]]:
    """Loggers under names never used before, so no earlier configuration is reused."""
    made: list[str] = []

    def make() -> Logger:
        service = f"test-observability-{next(_names)}"
        made.append(f"dofs.{service}")
        return get_logger(service)

    yield make
    for name in made:
        logging.getLogger(name).handlers.clear()


@pytest.fixture(autouse=True)
def _outside_lambda(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lambda sets AWS_LAMBDA_LOG_LEVEL; a test sets it itself when it wants it."""
    monkeypatch.delenv("AWS_LAMBDA_LOG_LEVEL", raising=False)


def test_the_level_defaults_to_info(
    fresh_logger: Callable[[], Logger], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LOG_LEVEL", raising=False)

    assert level_of(fresh_logger()) == logging.INFO


@pytest.mark.parametrize(
    ("raw", "level"),
    [
        ("DEBUG", logging.DEBUG),
        ("debug", logging.DEBUG),
        (" Warning ", logging.WARNING),
        ("ERROR", logging.ERROR),
        ("CRITICAL", logging.CRITICAL),
        ("", logging.INFO),
    ],
)
def test_log_level_names_the_level(
    fresh_logger: Callable[[], Logger], monkeypatch: pytest.MonkeyPatch, raw: str, level: int
) -> None:
    monkeypatch.setenv("LOG_LEVEL", raw)

    assert level_of(fresh_logger()) == level


@pytest.mark.parametrize("raw", ["VERBOSE", "WARN", "FATAL", "10", "info!"])
def test_an_unknown_log_level_is_a_configuration_error_listing_the_accepted_values(
    fresh_logger: Callable[[], Logger], monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("LOG_LEVEL", raw)

    with pytest.raises(ConfigurationError) as raised:
        fresh_logger()

    assert not isinstance(raised.value, ValueError)
    message = str(raised.value)
    assert "LOG_LEVEL" in message
    assert repr(raw) in message
    for accepted in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        assert accepted in message


def test_a_refused_log_level_leaves_no_half_made_logger(monkeypatch: pytest.MonkeyPatch) -> None:
    service = f"test-observability-{next(_names)}"
    monkeypatch.setenv("LOG_LEVEL", "LOUD")
    with pytest.raises(ConfigurationError):
        get_logger(service)

    monkeypatch.setenv("LOG_LEVEL", "ERROR")
    get_logger(service)

    logger = logging.getLogger(f"dofs.{service}")
    try:
        assert logger.level == logging.ERROR
        assert len(logger.handlers) == 1
    finally:
        logger.handlers.clear()


def test_the_accepted_levels_are_the_five_standard_ones() -> None:
    assert list(LOG_LEVELS) == ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
    assert log_level({}) == logging.INFO
    assert log_level({"LOG_LEVEL": "critical"}) == logging.CRITICAL


def test_records_below_the_level_are_not_written(
    fresh_logger: Callable[[], Logger],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    logger = fresh_logger()

    logger.info("quiet", extra={"order_id": "o-1"})
    logger.warning("loud", extra={"order_id": "o-1"})

    assert [entry["message"] for entry in log_lines(capsys.readouterr().out)] == ["loud"]


def test_each_record_is_one_json_line_with_the_service_and_extra_fields(
    fresh_logger: Callable[[], Logger], capsys: pytest.CaptureFixture[str]
) -> None:
    logger = fresh_logger()
    service = logger.name.removeprefix("dofs.")

    try:
        raise RuntimeError("first line\nsecond line")
    except RuntimeError:
        logger.exception("failed", extra={"order_id": "o-1", "amount": object()})

    out = capsys.readouterr().out
    assert len(out.splitlines()) == 1
    (entry,) = log_lines(out)
    assert entry["service"] == service
    assert entry["level"] == "ERROR"
    assert entry["order_id"] == "o-1"
    assert "second line" in entry["exception"]
    assert json.loads(out)["message"] == "failed"


# --- on Lambda ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lambda_level", "level"),
    [
        ("TRACE", logging.DEBUG),
        ("DEBUG", logging.DEBUG),
        ("INFO", logging.INFO),
        ("warn", logging.WARNING),
        ("ERROR", logging.ERROR),
        ("FATAL", logging.CRITICAL),
    ],
)
def test_lambdas_application_log_level_wins_over_log_level(
    fresh_logger: Callable[[], Logger],
    monkeypatch: pytest.MonkeyPatch,
    lambda_level: str,
    level: int,
) -> None:
    """An operator who changes the function's log level changes what it writes, deploy or not."""
    monkeypatch.setenv("LOG_LEVEL", "CRITICAL" if level < logging.CRITICAL else "DEBUG")
    monkeypatch.setenv("AWS_LAMBDA_LOG_LEVEL", lambda_level)

    assert level_of(fresh_logger()) == level


def test_a_blank_lambda_log_level_leaves_log_level_in_charge() -> None:
    assert log_level({"AWS_LAMBDA_LOG_LEVEL": " ", "LOG_LEVEL": "ERROR"}) == logging.ERROR


@pytest.mark.parametrize("raw", ["WARNING", "CRITICAL", "VERBOSE"])
def test_an_unknown_lambda_log_level_is_a_configuration_error_naming_that_variable(raw: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        log_level({"AWS_LAMBDA_LOG_LEVEL": raw, "LOG_LEVEL": "INFO"})

    message = str(raised.value)
    assert "AWS_LAMBDA_LOG_LEVEL" in message
    assert repr(raw) in message
    for accepted in ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"):
        assert accepted in message


def test_each_line_names_its_level_as_lambdas_log_filter_reads_it(
    fresh_logger: Callable[[], Logger],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Lambda counts a level it does not know as INFO, so a WARNING line would not pass a WARN filter."""
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    logger = fresh_logger()

    for write in (logger.debug, logger.info, logger.warning, logger.error, logger.critical):
        write("line")

    levels = [entry["level"] for entry in log_lines(capsys.readouterr().out)]
    assert levels == ["DEBUG", "INFO", "WARN", "ERROR", "FATAL"]
