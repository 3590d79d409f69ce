"""Stack settings: every ``dofs:*`` config key, read once, typed and checked.

A bad value stops the program with a message that names the key and what it accepts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal

import pulumi
from pulumi.runtime.config import CONFIG, get_config_env
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from components.errors import DeploymentError
from handlers.api_description import ApiAuth

NAMESPACE = "dofs"
REGION_KEY = "aws:region"

# The values CloudWatch Logs accepts for retention.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

# Step Functions' longest EXPRESS execution (docs: express-at-least-once-execution.html).
EXPRESS_MAX_SECONDS = 300

# A CORS origin: scheme https, a host, an optional port; no path (an Origin header's form).
CORS_ORIGIN = re.compile(r"https://[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?(:[0-9]{1,5})?")
# A client's name becomes its API key's name, dofs-<stack>-<client>.
API_CLIENT_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")

LAMBDA_RUNTIME = "python3.12"
# Enough to refuse what SNS would refuse or mail nowhere; SNS itself asks the owner to confirm.
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# What each list setting holds, for its error message.
LIST_EXAMPLES = {
    "api_clients": 'strings, e.g. ["web-shop"]',
    "cors_allow_origins": 'strings, e.g. ["https://shop.example.com"]',
    "alarm_emails": 'email addresses, e.g. ["ops@example.com"]',
}
LAMBDA_ARCHITECTURE = "arm64"


class StackConfigError(DeploymentError):
    """A stack setting is missing or invalid; the message names the key."""


def _distinct_matches(
    values: tuple[str, ...], pattern: re.Pattern[str], not_one: str, what: str
) -> tuple[str, ...]:
    """``values`` when each matches ``pattern`` in full and none is listed twice."""
    for value in values:
        if not pattern.fullmatch(value):
            raise ValueError(f"{value!r} {not_one}")
    if len(set(values)) != len(values):
        raise ValueError(f"names {what} twice")
    return values


class StackSettings(BaseModel):
    """Settings of one stack. Field ``max_receive_count`` is key ``dofs:maxReceiveCount``.

    ``environment`` is the stack's name, never a config key: two stacks of one account
    must not be able to claim the same resource names.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)

    environment: str = Field(pattern=r"^[a-z][a-z0-9-]{0,19}$")
    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    log_retention_days: int = 14
    fulfillment_success_rate: Decimal = Field(default=Decimal("0.7"), ge=0, le=1)
    max_receive_count: int = Field(default=3, ge=1, le=1000)
    fulfillment_batch_size: int = Field(default=10, ge=1, le=10000)
    fulfillment_batch_window_seconds: int = Field(default=0, ge=0, le=300)
    workflow_type: Literal["STANDARD", "EXPRESS"] = "STANDARD"
    workflow_log_level: Literal["ALL", "ERROR", "FATAL", "OFF"] = "ALL"
    # Execution data is each state's input and output: the order, customer address included.
    workflow_log_execution_data: bool = False
    api_throttle_rate_limit: Decimal = Field(default=Decimal(50), gt=0, le=10000)
    api_throttle_burst_limit: int = Field(default=100, ge=1, le=5000)
    lambda_memory_mb: int = Field(default=256, ge=128, le=10240)
    lambda_timeout_seconds: int = Field(default=10, ge=1, le=900)
    fulfill_timeout_seconds: int = Field(default=30, ge=1, le=900)
    # Step Functions takes at most 256 KiB of input, and the body travels JSON-escaped.
    max_order_body_bytes: int = Field(default=32 * 1024, ge=256, le=64 * 1024)
    workflow_timeout_seconds: int = Field(default=300, ge=10, le=86400)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    # Lambda's own lines: START, END and REPORT are INFO, so WARN keeps only its warnings.
    system_log_level: Literal["DEBUG", "INFO", "WARN"] = "INFO"
    # X-Ray: past one request a second, the share of the API's and the workflow's requests traced.
    trace_sample_rate: Decimal = Field(default=Decimal("0.05"), ge=0, le=1)
    # The reconciler: how often it runs, how long an order may sit RECEIVED or VALIDATED
    # before it is driven on, and how many times it is driven on before it is failed.
    reconcile_interval_minutes: int = Field(default=1, ge=1, le=1440)
    reconcile_after_seconds: int = Field(default=120, ge=1, le=86400)
    reconcile_max_attempts: int = Field(default=3, ge=1, le=100)
    protect_data: bool = False
    # How POST /order(s) and GET /orders/{id} are protected; GET /health stays open.
    api_auth: ApiAuth = "api_key"
    # One API key per client (api_key mode); each key's value is a secret stack output.
    api_clients: tuple[str, ...] = ()
    # Requests a day each client's key may make (the usage plan's quota).
    api_daily_quota: int = Field(default=1_000_000, ge=1)
    # Browser origins allowed by CORS; empty: no CORS headers at all.
    cors_allow_origins: tuple[str, ...] = ()
    # Stage access logs need the account's API Gateway CloudWatch role (see README).
    api_access_logs: bool = False

    # Who the stack's alerts topic emails (each address confirms its subscription once).
    alarm_emails: tuple[str, ...] = ()

    @field_validator("api_clients", "cors_allow_origins", "alarm_emails", mode="before")
    @classmethod
    def _parse_json_list(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str):
            return value
        example = LIST_EXAMPLES[info.field_name or ""]
        try:
            parsed = json.loads(value) if value.strip() else []
        except json.JSONDecodeError:
            raise ValueError(f"must be a JSON list of {example}") from None
        if not isinstance(parsed, list):
            raise ValueError(f"must be a list of {example}")
        return parsed

    @field_validator("api_clients")
    @classmethod
    def _validate_api_clients(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _distinct_matches(
            value,
            API_CLIENT_NAME,
            "is not a client name: lower-case letters, digits and -, 1-63 long",
            "a client",
        )

    @field_validator("cors_allow_origins")
    @classmethod
    def _validate_cors_origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _distinct_matches(
            value,
            CORS_ORIGIN,
            "is not an origin: https://host[:port], lower case, without a path",
            "an origin",
        )

    @field_validator("alarm_emails")
    @classmethod
    def _validate_alarm_emails(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _distinct_matches(value, EMAIL_PATTERN, "is not an email address", "an address")

    @field_validator("log_retention_days")
    @classmethod
    def _validate_retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(f"must be one of {', '.join(map(str, LOG_RETENTION_DAYS))}")
        return value

    @model_validator(mode="after")
    def _validate_express_timeout(self) -> StackSettings:
        if self.workflow_type == "EXPRESS" and self.workflow_timeout_seconds > EXPRESS_MAX_SECONDS:
            raise ValueError(
                f"{config_key('workflow_timeout_seconds')}: an EXPRESS workflow runs at most "
                f"{EXPRESS_MAX_SECONDS} s (got {self.workflow_timeout_seconds})"
            )
        return self

    @model_validator(mode="after")
    def _validate_batching(self) -> StackSettings:
        if self.fulfillment_batch_size > 10 and self.fulfillment_batch_window_seconds < 1:
            raise ValueError(
                f"{config_key('fulfillment_batch_size')}: above 10 needs "
                f"{config_key('fulfillment_batch_window_seconds')} of at least 1"
            )
        return self

    @model_validator(mode="after")
    def _validate_api_clients_present(self) -> StackSettings:
        if self.api_auth == "api_key" and not self.api_clients:
            raise ValueError(
                f"{config_key('api_clients')}: {config_key('api_auth')} api_key needs at least one client "
                "(pulumi config set --path 'dofs:apiClients[0]' web-shop)"
            )
        return self

    def queue_visibility_seconds(self, consumer_timeout_seconds: int) -> int:
        """AWS's advice for an SQS event source: at least 6x the consumer's timeout,
        plus the time a message may wait in a batching window."""
        return 6 * consumer_timeout_seconds + self.fulfillment_batch_window_seconds

    def received_stuck_after_seconds(self) -> int:
        """How long after a failed start the reconciler starts an order's workflow (again)."""
        return self.reconcile_after_seconds

    def order_due_seconds(self) -> int:
        """When the reconciler first looks at a new order: once its workflow has surely ended
        (the execution timeout) and its fulfillment too (every redelivery). An order that is
        fine never becomes due, so its deadline is written once, with the order, and the
        index keys change only when the order enters and leaves flight."""
        return self.workflow_timeout_seconds + self.pending_stuck_after_seconds()

    def pending_stuck_after_seconds(self) -> int:
        """How long an order may stay PENDING_FULFILLMENT before the reconciler re-enqueues it:
        past every redelivery SQS makes and the DLQ's own processing."""
        fulfilling = self.max_receive_count * self.queue_visibility_seconds(self.fulfill_timeout_seconds)
        dead_lettering = self.queue_visibility_seconds(self.lambda_timeout_seconds)
        return self.reconcile_after_seconds + fulfilling + dead_lettering

    @property
    def reconcile_schedule(self) -> str:
        minutes = self.reconcile_interval_minutes
        return f"rate({minutes} minute{'s' if minutes > 1 else ''})"


def config_key(field: str) -> str:
    if field == "region":
        return REGION_KEY
    if field == "environment":
        return "stack name"
    return f"{NAMESPACE}:{to_camel(field)}"


NOT_CONFIGURABLE = frozenset({"environment"})
KNOWN_KEYS = {config_key(name) for name in StackSettings.model_fields if name not in NOT_CONFIGURABLE}


def _describe(error: Mapping[str, Any]) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    location = error.get("loc") or ()
    if not location:
        return message
    return f"{config_key(str(location[0]))}: {message} (got {error.get('input')!r})"


def parse_settings(values: Mapping[str, str], stack: str) -> StackSettings:
    """Build settings from raw config values keyed ``dofs:camelCaseName`` / ``aws:region``."""
    unknown = sorted(k for k in values if k.startswith(f"{NAMESPACE}:") and k not in KNOWN_KEYS)
    if unknown:
        raise StackConfigError(
            f"{unknown[0]}: unknown setting; known settings are {', '.join(sorted(KNOWN_KEYS))}"
        )
    if not values.get(REGION_KEY):
        raise StackConfigError(f"{REGION_KEY}: is required (pulumi config set aws:region ap-south-1)")
    fields: dict[str, Any] = {"environment": stack}
    for name in StackSettings.model_fields.keys() - NOT_CONFIGURABLE:
        raw = values.get(config_key(name))
        if raw is not None:
            fields[name] = raw
    try:
        return StackSettings.model_validate(fields)
    except ValidationError as exc:
        raise StackConfigError("; ".join(_describe(e) for e in exc.errors())) from None


def load_settings() -> StackSettings:
    """Read the current stack's config (``Pulumi.<stack>.yaml``) once.

    Pulumi's public ``Config`` can read a key but not list a namespace, and the list is
    what lets a misspelled ``dofs:`` key stop the program instead of being ignored.
    """
    values = {**get_config_env(), **CONFIG.get()}
    return parse_settings({k: str(v) for k, v in values.items()}, pulumi.get_stack())
