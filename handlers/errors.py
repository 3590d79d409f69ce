"""The handler package's exceptions, under one base. ``handlers.aws`` translates AWS errors into them."""

from __future__ import annotations


class DofsError(Exception):
    """Base of every error raised on purpose by DOFS handlers."""


class ConfigurationError(DofsError):
    """The function is misconfigured: a missing or malformed environment variable, or AWS
    refusing the function's table name or credentials."""


class StorageError(DofsError):
    """DynamoDB refused a request for a reason that neither a retry nor configuration explains."""


class MalformedInputError(DofsError):
    """An event, workflow request or queue message that does not have the shape its handler
    takes; the message names every field at fault."""


class OrderNotFoundError(DofsError):
    def __init__(self, order_id: str) -> None:
        super().__init__(f"order {order_id} not found")
        self.order_id = order_id


class IdempotencyConflictError(DofsError):
    """The Idempotency-Key was used before with a different request body."""

    def __init__(self, message: str, order_id: str) -> None:
        super().__init__(message)
        self.order_id = order_id


class OrderTooLargeError(DofsError):
    """The order would not fit in a Step Functions execution input once JSON-escaped."""

    def __init__(self, input_bytes: int, limit_bytes: int) -> None:
        super().__init__(
            f"the order is too large to process: as workflow input, where JSON escaping counts, "
            f"it takes {input_bytes} bytes and at most {limit_bytes} fit"
        )
        self.input_bytes = input_bytes
        self.limit_bytes = limit_bytes


class OrderStateConflictError(DofsError):
    """A conditional write found the order in a state the caller did not expect."""


class OrderAlreadyFinalError(OrderStateConflictError):
    """The workflow found its order already final (a second execution of one order).

    The state machine's Catch names this class, so keep the name stable.
    """


class TransientStorageError(DofsError):
    """DynamoDB throttled or was briefly unavailable; the caller may retry.

    The workflow's Retry policy names this class, so keep the name stable.
    """


class WorkflowError(DofsError):
    """Step Functions refused a request about an order's execution."""


class WorkflowStartError(WorkflowError):
    """Step Functions did not start (or may not have started) the order's execution."""


class QueueError(DofsError):
    """SQS refused to take an order's fulfillment message."""


class PoisonMessageError(DofsError):
    """A queue message whose body is not a fulfillment message."""


class FulfillmentAttemptError(DofsError):
    """The (simulated) fulfillment did not succeed this time; the queue will redeliver."""
