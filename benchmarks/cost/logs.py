"""What a Lambda function's log group ingests, besides the handler's own lines.

Lambda writes platform lines for every invocation in the function's log format
(docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-logformat.html): in Text,
START, END and REPORT (with an XRAY part when traced); in JSON, ``platform.start`` and
``platform.report``, both at INFO, so a system log level of WARN or above drops them.
Their sizes come from AWS's formats, filled with values of typical width; REPORT always
carries an Init Duration (conservative). In JSON format with an application log level,
Lambda drops the handler's JSON lines whose ``level`` is below it; lines with no level stay.
Each log event is counted with 26 bytes of overhead, as CloudWatch Logs sizes a
PutLogEvents batch (conservative: the price may count only the message).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

LOG_EVENT_OVERHEAD_BYTES = 26
LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
PYTHON_LEVELS = {"WARNING": "WARN", "CRITICAL": "FATAL"}
PLATFORM_LEVEL = "INFO"

REQUEST_ID = "8f507cfc-1e2a-4697-b07a-ac58fc914c95"
TRACE_ID = "1-5e34a614-10bd5d6e7cfb44f07bc535a1"
SEGMENT_ID = "3d752ea72ef4d48f"
TIME = "2026-11-30T07:46:56.176Z"


def lambda_level(name: str) -> str:
    upper = name.upper()
    return PYTHON_LEVELS.get(upper, upper)


def _text_lines(memory_mb: int, traced: bool) -> list[str]:
    report = (
        f"REPORT RequestId: {REQUEST_ID}\tDuration: 123.45 ms\tBilled Duration: 124 ms\t"
        f"Memory Size: {memory_mb} MB\tMax Memory Used: 95 MB\tInit Duration: 312.34 ms\t"
    )
    if traced:
        report += f"\nXRAY TraceId: {TRACE_ID}\tSegmentId: {SEGMENT_ID}\tSampled: true\t"
    return [f"START RequestId: {REQUEST_ID} Version: $LATEST", f"END RequestId: {REQUEST_ID}", report]


def _json_lines(memory_mb: int, traced: bool) -> list[str]:
    start = {
        "time": TIME,
        "type": "platform.start",
        "record": {"requestId": REQUEST_ID, "version": "$LATEST"},
    }
    record: dict[str, Any] = {
        "requestId": REQUEST_ID,
        "metrics": {
            "durationMs": 123.45,
            "billedDurationMs": 124,
            "memorySizeMB": memory_mb,
            "maxMemoryUsedMB": 95,
            "initDurationMs": 312.34,
        },
        "status": "success",
    }
    if traced:
        record["tracing"] = {
            "spanId": SEGMENT_ID,
            "type": "X-Amzn-Trace-Id",
            "value": f"Root={TRACE_ID};Parent={SEGMENT_ID};Sampled=1",
        }
    report = {"time": TIME, "type": "platform.report", "record": record}
    return [json.dumps(start, separators=(",", ":")), json.dumps(report, separators=(",", ":"))]


@dataclass(frozen=True)
class LambdaLogConfig:
    log_group: str
    log_format: str = "Text"
    application_log_level: str | None = None
    system_log_level: str | None = None

    @classmethod
    def of(cls, function_name: str, config: Mapping[str, Any] | None) -> LambdaLogConfig:
        """From a LoggingConfig, AWS's (``LogFormat``) or the program's (``logFormat``) spelling."""
        config = config or {}

        def field(name: str) -> Any:
            return config.get(name) or config.get(name[0].lower() + name[1:])

        return cls(
            log_group=str(field("LogGroup") or f"/aws/lambda/{function_name}"),
            log_format=str(field("LogFormat") or "Text"),
            application_log_level=field("ApplicationLogLevel"),
            system_log_level=field("SystemLogLevel"),
        )

    @property
    def json(self) -> bool:
        return self.log_format.upper() == "JSON"

    def keeps(self, level: str) -> bool:
        """Whether a handler line at ``level`` ("" for none) is ingested."""
        if not (self.json and self.application_log_level and level):
            return True
        threshold, line = lambda_level(self.application_log_level), lambda_level(level)
        if line not in LEVELS or threshold not in LEVELS:
            return True
        return LEVELS.index(line) >= LEVELS.index(threshold)

    def platform_lines_kept(self) -> bool:
        if not (self.json and self.system_log_level):
            return True
        return LEVELS.index(lambda_level(PLATFORM_LEVEL)) >= LEVELS.index(lambda_level(self.system_log_level))

    def platform_log(self, memory_mb: int, traced: bool) -> tuple[int, int]:
        """(events, bytes) of platform lines ingested per invocation."""
        if not self.platform_lines_kept():
            return 0, 0
        lines = _json_lines(memory_mb, traced) if self.json else _text_lines(memory_mb, traced)
        return len(lines), sum(len(line.encode("utf-8")) + LOG_EVENT_OVERHEAD_BYTES for line in lines)
