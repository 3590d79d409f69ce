"""The handler package's exceptions, under one base. ``handlers.aws`` translates AWS errors into them."""

from __future__ import annotations


class DofsError(Exception):
    """Base of every error raised on purpose by DOFS handlers."""


class ConfigurationError(DofsError):
    """A required environment variable is missing or malformed."""


class OrderNotFoundError(DofsError):
    def __init__(self, order_id: str) -> None:
        super().__init__(f"order {order_id} not found")
        self.order_id = order_id


class IdempotencyConflictError(DofsError):
    """The Idempotency-Key was used before with a different request body."""


class OrderStateConflictError(DofsError):
    """A conditional write found the order in a state the caller did not expect."""


class TransientStorageError(DofsError):
    """DynamoDB throttled or was briefly unavailable; the caller may retry.

    The workflow's Retry policy names this class, so keep the name stable.
    """


class WorkflowStartError(DofsError):
    """Step Functions did not start the order's execution."""

    def __init__(self, message: str, order_id: str = "") -> None:
        super().__init__(message)
        self.order_id = order_id


class PoisonMessageError(DofsError):
    """A queue message whose body is not a fulfillment message."""


class FulfillmentAttemptError(DofsError):
    """The (simulated) fulfillment did not succeed this time; the queue will redeliver."""
