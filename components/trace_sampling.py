"""TraceSampling: the X-Ray sampling rules that bound how many of DOFS's requests are traced.

API Gateway and Step Functions decide which requests to trace from X-Ray's sampling
rules; without rules of DOFS's own they follow the account's Default rule, which anyone
may change. Each rule here traces one request a second, then ``traceSampleRate`` of the
rest, and wins over Default by its priority. A Lambda function's own rate cannot be set:
it follows the decision of the service that invoked it (the API, the workflow, or the
queue that carries the trace header), and otherwise samples one request a second plus 5%.
X-Ray bills $5.00 per million traces recorded (aws.amazon.com/xray/pricing).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.config import StackSettings

# Traced each second before the fixed rate applies; the same as X-Ray's Default rule.
RESERVOIR_PER_SECOND = 1
# Lower is evaluated first; X-Ray's Default rule is 10000.
PRIORITY = 1000


@dataclass
class TraceSamplingArgs:
    settings: StackSettings
    # X-Ray's service names: "<rest api name>/<stage>" for the API, the state machine's name.
    api_service_name: pulumi.Input[str]
    workflow_service_name: pulumi.Input[str]


class TraceSampling(pulumi.ComponentResource):
    api_rule: aws.xray.SamplingRule
    workflow_rule: aws.xray.SamplingRule

    def __init__(
        self, name: str, args: TraceSamplingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("dofs:index:TraceSampling", name, None, opts)
        envname = args.settings.environment
        self.api_rule = self._rule("api-sampling", f"dofs-api-{envname}", args.api_service_name, args)
        self.workflow_rule = self._rule(
            "workflow-sampling", f"dofs-sfn-{envname}", args.workflow_service_name, args
        )
        self.register_outputs(
            {"api_rule_arn": self.api_rule.arn, "workflow_rule_arn": self.workflow_rule.arn}
        )

    def _rule(
        self, name: str, rule_name: str, service_name: pulumi.Input[str], args: TraceSamplingArgs
    ) -> aws.xray.SamplingRule:
        # Rule names take at most 32 characters: 9 here and a stack name of at most 20.
        return aws.xray.SamplingRule(
            name,
            rule_name=rule_name,
            priority=PRIORITY,
            reservoir_size=RESERVOIR_PER_SECOND,
            fixed_rate=float(args.settings.trace_sample_rate),
            service_name=service_name,
            service_type="*",
            resource_arn="*",
            host="*",
            http_method="*",
            url_path="*",
            version=1,
            opts=pulumi.ResourceOptions(parent=self),
        )
