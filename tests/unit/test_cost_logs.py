"""What a function's log group ingests (benchmarks/cost/logs.py): platform lines and level filters."""

from __future__ import annotations

from benchmarks.cost.logs import LOG_EVENT_OVERHEAD_BYTES, LambdaLogConfig


def test_without_a_logging_config_text_platform_lines_go_to_the_functions_group() -> None:
    config = LambdaLogConfig.of("dofs-api-handler-dev", None)
    assert config.log_group == "/aws/lambda/dofs-api-handler-dev"
    events, size = config.platform_log(256, traced=False)
    assert events == 3  # START, END, REPORT
    assert size > 3 * LOG_EVENT_OVERHEAD_BYTES + len("START RequestId: ") + 36


def test_tracing_adds_the_xray_part_to_report() -> None:
    config = LambdaLogConfig.of("f", {"LogFormat": "Text"})
    traced, untraced = config.platform_log(512, traced=True)[1], config.platform_log(512, traced=False)[1]
    assert traced - untraced > len("XRAY TraceId: 1-5e34a614-10bd5d6e7cfb44f07bc535a1")


def test_json_platform_lines_are_dropped_at_system_level_warn_and_kept_at_info() -> None:
    program_spelling = {"logFormat": "JSON", "systemLogLevel": "WARN", "logGroup": "/dofs/functions"}
    dropped = LambdaLogConfig.of("f", program_spelling)
    assert dropped.log_group == "/dofs/functions"
    assert dropped.platform_log(512, traced=True) == (0, 0)
    kept = LambdaLogConfig.of("f", {"LogFormat": "JSON", "SystemLogLevel": "INFO"})
    assert kept.platform_log(512, traced=True)[0] == 2  # platform.start, platform.report


def test_the_application_level_filters_json_lines_by_their_level() -> None:
    config = LambdaLogConfig.of("f", {"LogFormat": "JSON", "ApplicationLogLevel": "WARN"})
    assert not config.keeps("INFO")
    assert config.keeps("WARNING")  # Python's name for WARN
    assert config.keeps("ERROR") and config.keeps("CRITICAL")
    assert config.keeps("")  # a line that names no level is not filtered


def test_text_format_filters_nothing() -> None:
    config = LambdaLogConfig.of(
        "f", {"LogFormat": "Text", "ApplicationLogLevel": "ERROR", "SystemLogLevel": "FATAL"}
    )
    assert config.keeps("DEBUG")
    assert config.platform_log(128, traced=False)[0] == 3
