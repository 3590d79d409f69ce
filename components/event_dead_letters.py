"""The dead-letter queue of an EventBridge target: where an event goes that EventBridge
could not deliver after its retries (the function was deleted, throttled past the retry
window, or its permission was lost), instead of being dropped.

The queue uses SQS-managed encryption: EventBridge can send to it, which it cannot to a
queue encrypted with the AWS-managed SQS KMS key (EventBridge User Guide, "Using
dead-letter queues to process undelivered events"). Its policy lets only the one rule
send, by ``aws:SourceArn``. Nothing consumes it: an event there is for a person, and the
alarm on its visible messages (components/alarm_specs.py) says so.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.config import StackSettings

# EventBridge DLQ messages are for triage: keep them as long as SQS allows.
EVENT_DLQ_RETENTION_SECONDS = 14 * 24 * 3600
# SQS's default, stated: nothing consumes the queue but a person reading it.
EVENT_DLQ_VISIBILITY_SECONDS = 30


def event_target_dead_letter_queue(
    name: str,
    *,
    queue_name: str,
    rule: aws.cloudwatch.EventRule,
    settings: StackSettings,
    parent: pulumi.Resource,
) -> aws.sqs.Queue:
    """An encrypted queue, with a policy that lets only ``rule`` send to it."""
    queue = aws.sqs.Queue(
        name,
        name=queue_name,
        message_retention_seconds=EVENT_DLQ_RETENTION_SECONDS,
        visibility_timeout_seconds=EVENT_DLQ_VISIBILITY_SECONDS,
        sqs_managed_sse_enabled=True,
        opts=pulumi.ResourceOptions(parent=parent, protect=settings.protect_data),
    )
    aws.sqs.QueuePolicy(
        f"{name}-policy",
        queue_url=queue.url,
        policy=pulumi.Output.json_dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "events.amazonaws.com"},
                        "Action": "sqs:SendMessage",
                        "Resource": queue.arn,
                        "Condition": {"ArnEquals": {"aws:SourceArn": rule.arn}},
                    }
                ],
            }
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return queue
