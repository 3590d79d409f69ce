"""The alerts topic and its subscriptions, and the hardening of issue 12 §6: data kept
with protectData, EventBridge targets with a dead-letter queue only their rule may use."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

from local.recorded_program import ProgramRun, RecordedResource, record_program
from tests.infra import helpers as h


def _account(run: ProgramRun) -> str:
    return str(h.state_machine(run).outputs["arn"].split(":")[4])


def test_one_alerts_topic_per_stack_unencrypted_so_cloudwatch_can_publish(stack_run: ProgramRun) -> None:
    topic = h.only(stack_run, h.TOPIC)
    assert topic.inputs["name"] == f"dofs-alerts-{stack_run.stack}"
    # CloudWatch cannot use the AWS-managed SNS key; alarm messages carry no order data.
    assert "kmsMasterKeyId" not in topic.inputs


def test_only_this_stacks_alarms_may_publish_and_only_over_tls(stack_run: ProgramRun) -> None:
    topic = h.only(stack_run, h.TOPIC)
    policy = h.only(stack_run, h.TOPIC_POLICY)
    assert policy.inputs["arn"] == topic.outputs["arn"]
    publish, tls = json.loads(policy.inputs["policy"])["Statement"]
    assert publish["Effect"] == "Allow" and publish["Action"] == "sns:Publish"
    assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert publish["Resource"] == topic.outputs["arn"]
    assert publish["Condition"]["StringEquals"] == {"aws:SourceAccount": _account(stack_run)}
    pattern = publish["Condition"]["ArnLike"]["aws:SourceArn"]
    region = stack_run.outputs["state_machine_arn"].split(":")[3]
    for alarm in stack_run.of_type(h.METRIC_ALARM):
        arn = f"arn:aws:cloudwatch:{region}:{_account(stack_run)}:alarm:{alarm.inputs['name']}"
        assert fnmatch.fnmatchcase(arn, pattern), arn
    other = "prod" if stack_run.stack == "dev" else "dev"
    assert not fnmatch.fnmatchcase(
        f"arn:aws:cloudwatch:{region}:{_account(stack_run)}:alarm:dofs-workflow-failures-{other}", pattern
    )
    assert tls["Effect"] == "Deny" and tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_no_subscription_without_alarm_emails(stack_run: ProgramRun) -> None:
    assert stack_run.of_type(h.TOPIC_SUBSCRIPTION) == []


def test_each_alarm_email_subscribes_to_the_topic() -> None:
    emails = ["ops@example.com", "oncall@example.org"]
    run = record_program("dev", {"dofs:alarmEmails": json.dumps(emails)})
    topic_arn = h.only(run, h.TOPIC).outputs["arn"]
    subscriptions = run.of_type(h.TOPIC_SUBSCRIPTION)
    assert sorted(s.inputs["endpoint"] for s in subscriptions) == sorted(emails)
    for subscription in subscriptions:
        assert subscription.inputs["protocol"] == "email"
        assert subscription.inputs["topic"] == topic_arn


# --- protectData ------------------------------------------------------------------------


def _kept(run: ProgramRun) -> list[RecordedResource]:
    return [*run.of_type(h.QUEUE), *run.of_type(h.TOPIC), *run.of_type(h.TABLE)]


def test_queues_topic_and_tables_are_protected_exactly_when_protect_data(
    stack_run: ProgramRun, config: h.StackConfig
) -> None:
    protect = config.flag("dofs:protectData")
    kept = _kept(stack_run)
    assert len(kept) >= 6
    for resource in kept:
        assert resource.protected is protect, resource.name


def test_protect_data_on_in_prod_off_in_dev(dev_run: ProgramRun, prod_run: ProgramRun) -> None:
    assert all(r.protected for r in _kept(prod_run))
    assert not any(r.protected for r in _kept(dev_run))


# --- EventBridge targets' dead-letter queues ---------------------------------------------


def _queue_with_arn(run: ProgramRun, arn: str) -> RecordedResource:
    (queue,) = [q for q in run.of_type(h.QUEUE) if q.outputs["arn"] == arn]
    return queue


def _policy_of_queue(run: ProgramRun, queue: RecordedResource) -> dict[str, Any]:
    (policy,) = [p for p in run.of_type(h.QUEUE_POLICY) if p.inputs["queueUrl"] == queue.outputs["url"]]
    document: dict[str, Any] = json.loads(policy.inputs["policy"])
    return document


def test_every_eventbridge_target_has_its_own_encrypted_dead_letter_queue(stack_run: ProgramRun) -> None:
    targets = stack_run.of_type(h.EVENT_TARGET)
    assert targets
    queues = set()
    for target in targets:
        queue = _queue_with_arn(stack_run, target.inputs["deadLetterConfig"]["arn"])
        assert queue.inputs["sqsManagedSseEnabled"] is True, queue.name
        queues.add(queue.name)
    assert len(queues) == len(targets)


def test_only_the_targets_rule_may_send_to_its_dead_letter_queue(stack_run: ProgramRun) -> None:
    rules = {r.inputs["name"]: r for r in stack_run.of_type(h.EVENT_RULE)}
    for target in stack_run.of_type(h.EVENT_TARGET):
        queue = _queue_with_arn(stack_run, target.inputs["deadLetterConfig"]["arn"])
        (statement,) = _policy_of_queue(stack_run, queue)["Statement"]
        assert statement == {
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue.outputs["arn"],
            "Condition": {"ArnEquals": {"aws:SourceArn": rules[target.inputs["rule"]].outputs["arn"]}},
        }


def test_every_eventbridge_dead_letter_queue_is_watched(stack_run: ProgramRun) -> None:
    event_dlqs = {
        _queue_with_arn(stack_run, t.inputs["deadLetterConfig"]["arn"]).inputs["name"]
        for t in stack_run.of_type(h.EVENT_TARGET)
    }
    watched = {
        query["metric"]["dimensions"].get("QueueName")
        for alarm in stack_run.of_type(h.METRIC_ALARM)
        for query in alarm.inputs["metricQueries"]
        if "metric" in query and query["metric"]["metricName"] == "ApproximateNumberOfMessagesVisible"
    }
    assert event_dlqs <= watched
