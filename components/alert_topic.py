"""AlertTopic: the stack's SNS topic that every alarm notifies, and its email subscriptions.

Encryption: none, on purpose. CloudWatch cannot publish to a topic encrypted with the
AWS-managed key ``alias/aws/sns`` (its key policy cannot be changed to let CloudWatch
use it: SNS Developer Guide, "Enable compatibility between event sources from AWS
services and encrypted topics"), so the choice is a customer-managed key or none. An
alarm notification carries the alarm's name, state and metric values, no order or
customer data, so a key (billed monthly, with a policy to keep) would protect nothing;
the topic policy instead refuses any request not made over TLS.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.config import StackSettings


@dataclass
class AlertTopicArgs:
    settings: StackSettings
    account_id: pulumi.Input[str]


def alarm_arn_pattern(settings: StackSettings, account_id: pulumi.Input[str]) -> pulumi.Output[str]:
    """The ARNs of this stack's alarms (``dofs-<key>-<stack>``, components/alarms.py)."""
    return pulumi.Output.concat(
        "arn:aws:cloudwatch:", settings.region, ":", account_id, ":alarm:dofs-*-", settings.environment
    )


class AlertTopic(pulumi.ComponentResource):
    topic: aws.sns.Topic

    def __init__(self, name: str, args: AlertTopicArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dofs:index:AlertTopic", name, None, opts)
        settings = args.settings
        self.topic = aws.sns.Topic(
            "alerts",
            name=f"dofs-alerts-{settings.environment}",
            display_name=f"DOFS {settings.environment} alerts",
            opts=pulumi.ResourceOptions(parent=self, protect=settings.protect_data),
        )
        aws.sns.TopicPolicy(
            "alerts-policy",
            arn=self.topic.arn,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "StackAlarmsPublish",
                            "Effect": "Allow",
                            "Principal": {"Service": "cloudwatch.amazonaws.com"},
                            "Action": "sns:Publish",
                            "Resource": self.topic.arn,
                            "Condition": {
                                "StringEquals": {"aws:SourceAccount": args.account_id},
                                "ArnLike": {"aws:SourceArn": alarm_arn_pattern(settings, args.account_id)},
                            },
                        },
                        {
                            "Sid": "TlsOnly",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "sns:*",
                            "Resource": self.topic.arn,
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        },
                    ],
                }
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        for email in settings.alarm_emails:
            aws.sns.TopicSubscription(
                f"alerts-email-{email}",
                topic=self.topic.arn,
                protocol="email",
                endpoint=email,
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({"topic_arn": self.topic.arn})
