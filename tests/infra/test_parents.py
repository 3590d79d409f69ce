"""Every child resource is parented to the component that owns it."""

from __future__ import annotations

from local.recorded_program import record_program

STACK_TYPE = "pulumi:pulumi:Stack"
TOP_LEVEL = {("aws:lambda/layerVersion:LayerVersion", "python-dependencies")}
COMPONENTS = {
    "dofs:index:OrderTables",
    "dofs:index:FulfillmentQueue",
    "dofs:index:OrderWorkflow",
    "dofs:index:OrderApi",
    "dofs:index:OrderReconciler",
    "dofs:index:TraceSampling",
    "dofs:index:AlertTopic",
    "dofs:index:OrderAlarms",
    "dofs:index:OrderDashboard",
}


def test_only_the_components_and_the_shared_layer_sit_at_the_top() -> None:
    run = record_program("dev")
    top = {(r.type, r.name) for r in run.resources if r.parent_type == STACK_TYPE}

    assert top == TOP_LEVEL | {(r.type, r.name) for r in run.resources if r.type in COMPONENTS}


def test_every_aws_resource_has_a_dofs_component_parent() -> None:
    run = record_program("dev")
    orphans = [
        (r.type, r.name)
        for r in run.resources
        if r.type.startswith("aws:")
        and (r.type, r.name) not in TOP_LEVEL
        and not r.parent_type.startswith("dofs:index:")
    ]

    assert orphans == []


def test_each_function_belongs_to_the_component_that_uses_it() -> None:
    run = record_program("dev")
    owners = {r.name: r.parent_type for r in run.of_type("dofs:index:PythonFunction")}

    assert owners == {
        "api-handler": "dofs:index:OrderApi",
        "validator": "dofs:index:OrderWorkflow",
        "order-storage": "dofs:index:OrderWorkflow",
        "fulfill-order": "dofs:index:FulfillmentQueue",
        "dlq-processor": "dofs:index:FulfillmentQueue",
        "reconciler": "dofs:index:OrderReconciler",
    }
    functions = run.of_type("aws:lambda/function:Function")
    assert {f.parent_type for f in functions} == {"dofs:index:PythonFunction"}


def test_the_reconcile_schedule_belongs_to_the_reconciler() -> None:
    run = record_program("dev")
    owned = {
        (r.type, r.name): r.parent_type
        for r in run.resources
        if r.name in {"reconcile-schedule", "reconciler-invoke-permission", "reconciler-target"}
    }

    assert owned == {
        ("aws:cloudwatch/eventRule:EventRule", "reconcile-schedule"): "dofs:index:OrderReconciler",
        ("aws:lambda/permission:Permission", "reconciler-invoke-permission"): "dofs:index:OrderReconciler",
        ("aws:cloudwatch/eventTarget:EventTarget", "reconciler-target"): "dofs:index:OrderReconciler",
    }
