"""The order-processing state machine, as data.

``build_definition`` takes plain strings or Pulumi Inputs; the component serialises it
with ``pulumi.Output.json_dumps`` once the ARNs are known, tests with ``json.dumps``.
"""

from __future__ import annotations

from typing import Any

import pulumi

LAMBDA_TRANSIENT_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "TransientStorageError",  # handlers.errors: DynamoDB throttled inside a function
]
ORDER_ALREADY_FINAL_ERROR = "OrderAlreadyFinalError"  # handlers.errors

ORDER_PROCESSING_FAILED_ERROR = "OrderProcessingFailed"
# Where an enqueue that failed for good ends: the order waits, PENDING_FULFILLMENT, for
# the reconciler (components/order_reconciler.py) to send its message again.
ENQUEUE_DEFERRED_STATE = "EnqueueDeferredToReconciler"


def _retry(errors: list[str], max_attempts: int = 3) -> list[dict[str, Any]]:
    return [
        {
            "ErrorEquals": errors,
            "IntervalSeconds": 1,
            "BackoffRate": 2.0,
            "MaxAttempts": max_attempts,
            "MaxDelaySeconds": 20,
            "JitterStrategy": "FULL",
        }
    ]


def _on_any_error(next_state: str = "RecordWorkflowFailure") -> dict[str, Any]:
    return {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": next_state}


def _invoke(function_arn: pulumi.Input[str], payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": function_arn, "Payload": payload},
        "Retry": _retry(LAMBDA_TRANSIENT_ERRORS),
    }


def build_definition(
    validator_arn: pulumi.Input[str],
    order_storage_arn: pulumi.Input[str],
    queue_url: pulumi.Input[str],
    timeout_seconds: int,
) -> dict[str, Any]:
    return {
        "Comment": "DOFS order processing: validate, store, enqueue for fulfillment",
        "TimeoutSeconds": timeout_seconds,
        "StartAt": "ValidateOrder",
        "States": {
            "ValidateOrder": {
                **_invoke(validator_arn, {"order_id.$": "$.order_id", "request_body.$": "$.request_body"}),
                # Replace the state: the raw request body is not carried past validation,
                # which keeps every later state well under Step Functions' 256 KiB limit.
                "ResultSelector": {
                    "order_id.$": "$.Payload.order_id",
                    "validation": {
                        "valid.$": "$.Payload.valid",
                        "reasons.$": "$.Payload.reasons",
                        "order.$": "$.Payload.order",
                    },
                },
                "ResultPath": "$",
                "Catch": [_on_any_error()],
                "Next": "IsOrderValid",
            },
            "IsOrderValid": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.validation.valid", "BooleanEquals": True, "Next": "StoreOrder"}],
                "Default": "RecordRejection",
            },
            "StoreOrder": {
                **_invoke(
                    order_storage_arn,
                    {
                        "operation": "store_validated",
                        "order_id.$": "$.order_id",
                        "order.$": "$.validation.order",
                    },
                ),
                "ResultSelector": {"status.$": "$.Payload.status"},
                "ResultPath": "$.storage",
                "Catch": [
                    # A second execution of an order already final (EXPRESS runs at least once).
                    {
                        "ErrorEquals": [ORDER_ALREADY_FINAL_ERROR],
                        "ResultPath": "$.failure",
                        "Next": "OrderAlreadyProgressed",
                    },
                    _on_any_error(),
                ],
                "Next": "EnqueueForFulfillment",
            },
            "EnqueueForFulfillment": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage",
                "Parameters": {"QueueUrl": queue_url, "MessageBody": {"order_id.$": "$.order_id"}},
                "ResultSelector": {"message_id.$": "$.MessageId"},
                "ResultPath": "$.enqueue",
                # SQS errors reach Step Functions under generic names, so transient and
                # permanent ones look alike; a few retries are cheap, and sending twice is
                # harmless because fulfillment is idempotent per order.
                "Retry": _retry(["States.TaskFailed"]),
                # Retries exhausted: the order stays PENDING_FULFILLMENT for the reconciler.
                "Catch": [_on_any_error(ENQUEUE_DEFERRED_STATE)],
                "End": True,
            },
            ENQUEUE_DEFERRED_STATE: {
                "Type": "Succeed",
                "Comment": (
                    "The order is stored and PENDING_FULFILLMENT; the reconciler re-enqueues it, "
                    "so a failed enqueue neither loses nor fails the order. The error is in $.failure."
                ),
            },
            "OrderAlreadyProgressed": {"Type": "Succeed"},
            "RecordRejection": {
                **_invoke(
                    order_storage_arn,
                    {
                        "operation": "record_rejection",
                        "order_id.$": "$.order_id",
                        "reasons.$": "$.validation.reasons",
                    },
                ),
                "ResultPath": None,
                "Catch": [_on_any_error()],
                "Next": "OrderRejected",
            },
            # A rejection is an outcome, not a fault: the execution succeeds, so Step
            # Functions' ExecutionsFailed (and its alarm) counts only faults.
            "OrderRejected": {
                "Type": "Succeed",
                "Comment": "The order failed validation; its reasons are in the failed-orders table.",
            },
            "RecordWorkflowFailure": {
                **_invoke(
                    order_storage_arn,
                    {
                        "operation": "record_workflow_failure",
                        "order_id.$": "$.order_id",
                        "error.$": "$.failure.Error",
                        "cause.$": "$.failure.Cause",
                    },
                ),
                "ResultPath": None,
                "Next": "WorkflowFailed",
            },
            "WorkflowFailed": {
                "Type": "Fail",
                "Error": ORDER_PROCESSING_FAILED_ERROR,
                "Cause": "A workflow step failed; the order is FULFILLMENT_FAILED with the error recorded.",
            },
        },
    }
