"""The soak run, small: ~200 orders with every fault on; the promises must all hold.

One test module per workflow type (test_soak_standard.py, test_soak_express.py), so that
``make test`` runs the two soaks on different workers. `python -m benchmarks.soak` runs
the same code at 2,000 orders (see the README).
"""

from __future__ import annotations

import dataclasses
from collections import Counter

from benchmarks.soak import DEFAULT_FAULT_RATES, SoakOptions, soak, soak_stack
from handlers.faults import FaultPoint
from handlers.models import OrderStatus

# A crash and a duplicate are drawn once per batch, and 200 orders make a few dozen
# batches: at the default 5-10% a run could see none, so the small soak raises them.
PER_BATCH_FAULTS = {
    FaultPoint.CRASH_BEFORE_ACK: 0.3,
    FaultPoint.DUPLICATE_DELIVERY: 0.3,
    FaultPoint.DUPLICATE_EXECUTION: 0.3,
}
SMALL_SOAK = SoakOptions(
    orders=200,
    clients=8,
    seed=4,
    faults={**DEFAULT_FAULT_RATES, **PER_BATCH_FAULTS},
    settle_timeout_seconds=240,
)


def soak_and_check(stack_name: str) -> None:
    """Run the small soak on ``stack_name``'s settings and assert every promise held."""
    options = dataclasses.replace(SMALL_SOAK, stack=stack_name)
    with soak_stack(options) as (stack, ledger):
        report = soak(stack, options, ledger)
        workflow_type = stack.client("stepfunctions").describe_state_machine(
            stateMachineArn=stack.outputs["state_machine_arn"]
        )["type"]
        invocations = list(stack.runtime.invocations)
    errors = Counter(i.error_type for i in invocations if i.error_type)
    batches = sum(i.function_name == f"dofs-fulfill-order-{stack_name}" for i in invocations)
    reconciled = Counter[str]()
    for invocation in invocations:
        if invocation.function_name == f"dofs-reconciler-{stack_name}" and invocation.error_type is None:
            reconciled.update(invocation.result)
    validations = Counter(
        i.event["order_id"] for i in invocations if i.function_name == f"dofs-validator-{stack_name}"
    )

    print("\n".join(report.lines()))
    assert report.lost == [] and report.stuck == [] and report.doubled == []
    assert report.bad_input_stored == [] and report.wrong_outcome == []
    assert report.queues_left == 0
    assert report.accepted > 150
    assert report.final[OrderStatus.FULFILLED] > 0 and report.final[OrderStatus.REJECTED] > 0
    assert sum(report.final.values()) == report.accepted
    # The faults did happen, and were survived rather than avoided:
    assert errors["TransientStorageError"] > 0
    assert errors["InjectedCrashError"] > 0, f"no crash in {batches} fulfill_order batches"
    assert reconciled["started"] > 0, "no order needed the reconciler to start its workflow"
    assert report.refused[409] > 0 and report.refused[422] > 0
    assert report.ok
    assert workflow_type == {"dev": "STANDARD", "prod": "EXPRESS"}[stack_name]
    if workflow_type == "EXPRESS":  # some orders' workflow ran twice, and nothing was doubled
        assert max(validations.values()) > 1
