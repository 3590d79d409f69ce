"""The drift job's summary names each resource the refresh found changed outside Pulumi."""

from __future__ import annotations

import json

from ops.drift_report import report

PREFIX = "urn:pulumi:prod::dofs::"


def test_each_drifted_resource_is_named_with_its_change_and_properties() -> None:
    preview = {
        "steps": [
            {"op": "same", "urn": f"{PREFIX}aws:sqs/queue:Queue::order-dlq"},
            {
                "op": "update",
                "urn": f"{PREFIX}dofs:index:OrderTables$aws:dynamodb/table:Table::orders",
                "diffReasons": ["pointInTimeRecovery", "deletionProtectionEnabled"],
            },
            {"op": "create", "urn": f"{PREFIX}aws:cloudwatch/logGroup:LogGroup::validator-logs"},
        ]
    }

    summary = report("prod", json.dumps(preview))

    assert "2 resource(s) drifted" in summary
    changed = "pointInTimeRecovery, deletionProtectionEnabled"
    assert f"| update | `aws:dynamodb/table:Table orders` | {changed} |" in summary
    assert "| create | `aws:cloudwatch/logGroup:LogGroup validator-logs` | - |" in summary
    assert "order-dlq" not in summary


def test_no_change_and_a_failed_preview_say_so() -> None:
    unchanged = {"steps": [{"op": "same", "urn": f"{PREFIX}a:b:C::x"}]}
    assert report("dev", json.dumps(unchanged)) == "### dev: no drift\n"
    assert "failed before it listed" in report("dev", "error: no credentials")
    assert "failed before it listed" in report("dev", "")
