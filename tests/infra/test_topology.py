"""What the program creates: its components, its AWS resources and how many of each."""

from __future__ import annotations

from collections import Counter

from handlers.api_routes import RESOURCES, ROUTES
from local.recorded_program import ProgramRun
from tests.infra import helpers as h

EXPECTED_COMPONENTS = Counter(
    {
        "dofs:index:OrderApi": 1,
        "dofs:index:OrderWorkflow": 1,
        "dofs:index:FulfillmentQueue": 1,
        "dofs:index:OrderTables": 1,
        "dofs:index:OrderReconciler": 1,
        "dofs:index:TraceSampling": 1,
        "dofs:index:GatewayResponses": 1,
        "dofs:index:AlertTopic": 1,
        "dofs:index:OrderAlarms": 1,
        "dofs:index:OrderDashboard": 1,
        "dofs:index:PythonFunction": len(h.FUNCTIONS),
    }
)
# Only a stack whose dofs:apiAuth is api_key (prod) has its clients' keys.
API_KEYS = Counter({"dofs:index:ApiKeys": 1})
# One per API Gateway error type the API answers in its own shape (tests/infra/test_api_access.py).
GATEWAY_RESPONSES = 12


def _api_gateway_paths() -> set[str]:
    """Every path prefix of the routed resources plus the catch-all: one API resource each."""
    paths: set[str] = set()
    for resource in (*RESOURCES, h.CATCH_ALL_PATH):
        parts = resource.strip("/").split("/")
        paths.update("/" + "/".join(parts[: i + 1]) for i in range(len(parts)))
    return paths


def _expected_resource_counts() -> Counter[str]:
    functions = len(h.FUNCTIONS)
    # One explicit method per route, one ANY per routed resource and one on the catch-all.
    methods = len(ROUTES) + len(set(RESOURCES)) + 1
    return Counter(
        {
            h.FUNCTION: functions,
            h.ROLE: functions + 1,  # one per function, one for the state machine
            h.ROLE_POLICY: functions + 1,
            h.LOG_GROUP: functions + 1,  # one per function, one for the state machine
            h.LAYER: 1,
            h.EVENT_SOURCE_MAPPING: 2,
            # API Gateway → api_handler, EventBridge → order_storage and → reconciler
            h.PERMISSION: 3,
            h.EVENT_RULE: 2,  # executions that ended badly, the reconciler's schedule
            h.EVENT_TARGET: 2,
            h.TABLE: 2,
            h.QUEUE: 4,  # the order queue, its DLQ, and one DLQ per EventBridge target
            h.QUEUE_POLICY: 2,  # each EventBridge DLQ lets only its rule send
            h.REDRIVE_ALLOW_POLICY: 1,
            # 2 on the order queues, 2 on failed orders, 2 on the API, 1 on the workflow,
            # 1 on the reconciler, errors and throttles per function, 1 per EventBridge DLQ
            h.METRIC_ALARM: 8 + 2 * functions + 2,
            h.TOPIC: 1,
            h.TOPIC_POLICY: 1,
            h.DASHBOARD: 1,
            h.STATE_MACHINE: 1,
            h.REST_API: 1,
            h.API_RESOURCE: len(_api_gateway_paths()),
            h.API_METHOD: methods,
            h.API_INTEGRATION: methods,
            h.API_DEPLOYMENT: 1,
            h.API_STAGE: 1,
            h.API_METHOD_SETTINGS: 1,
            h.API_GATEWAY_RESPONSE: GATEWAY_RESPONSES,
            h.SAMPLING_RULE: 2,  # the API's and the workflow's
        }
    )


def test_components_are_exactly_the_dofs_components(stack_run: ProgramRun) -> None:
    keys = API_KEYS if h.StackConfig(stack_run.stack).raw("dofs:apiAuth") == "api_key" else Counter()
    assert Counter(c.type for c in h.components(stack_run)) == EXPECTED_COMPONENTS + keys


def test_the_python_function_components_are_the_six_handlers(stack_run: ProgramRun) -> None:
    names = sorted(c.name for c in h.components(stack_run) if c.type == "dofs:index:PythonFunction")
    assert names == sorted(h.FUNCTIONS)


def test_dev_resource_counts_per_type(dev_run: ProgramRun) -> None:
    root = h.only(dev_run, h.REST_API).outputs["rootResourceId"]
    recorded = Counter(
        r.type
        for r in dev_run.resources
        if not r.type.startswith(h.COMPONENT_PREFIX)
        # A method on "/" is test_api.test_the_root_path_reaches_the_handler_too's business.
        and not (r.type in {h.API_METHOD, h.API_INTEGRATION} and r.inputs["resourceId"] == root)
    )
    assert recorded == _expected_resource_counts()


# The safety net for executions that end badly: dev (STANDARD) has it, prod (EXPRESS) cannot,
# since EXPRESS executions emit no status-change events.
SAFETY_NET = {
    (h.EVENT_RULE, "execution-ended"),
    (h.EVENT_TARGET, "execution-ended-target"),
    (h.PERMISSION, "execution-ended-invoke-permission"),
    (h.QUEUE, "execution-ended-dlq"),
    (h.QUEUE_POLICY, "execution-ended-dlq-policy"),
    (h.METRIC_ALARM, "execution-ended-undelivered"),
}


def test_prod_has_the_resources_of_dev_but_the_standard_only_safety_net(
    dev_run: ProgramRun, prod_run: ProgramRun
) -> None:
    def shape(run: ProgramRun) -> Counter[tuple[str, str]]:
        return Counter((r.type, r.name) for r in run.resources)

    def api_keys(run: ProgramRun) -> Counter[tuple[str, str]]:
        return Counter((r.type, r.name) for r in run.resources if r.type in h.API_KEY_TYPES)

    assert set(shape(dev_run)) >= SAFETY_NET
    assert not api_keys(dev_run)  # dev's dofs:apiAuth is none
    assert api_keys(prod_run)
    assert shape(prod_run) - api_keys(prod_run) == shape(dev_run) - Counter(SAFETY_NET)


def test_lambda_functions_are_the_six_named_per_environment(stack_run: ProgramRun) -> None:
    names = {f.inputs["name"] for f in stack_run.of_type(h.FUNCTION)}
    assert names == {
        f"dofs-api-handler-{stack_run.stack}",
        f"dofs-validator-{stack_run.stack}",
        f"dofs-order-storage-{stack_run.stack}",
        f"dofs-fulfill-order-{stack_run.stack}",
        f"dofs-dlq-processor-{stack_run.stack}",
        f"dofs-reconciler-{stack_run.stack}",
    }


def test_tables_queues_state_machine_and_layer_are_named_per_environment(stack_run: ProgramRun) -> None:
    env = stack_run.stack
    assert {t.inputs["name"] for t in stack_run.of_type(h.TABLE)} == {
        f"dofs-orders-{env}",
        f"dofs-failed-orders-{env}",
    }
    assert {q.inputs["name"] for q in stack_run.of_type(h.QUEUE)} == {
        f"dofs-order-queue-{env}",
        f"dofs-order-dlq-{env}",
        f"dofs-order-reconciler-dlq-{env}",
        *({f"dofs-order-execution-ended-dlq-{env}"} if env == "dev" else set()),  # STANDARD only
    }
    assert h.state_machine(stack_run).inputs["name"] == f"dofs-order-processing-{env}"
    assert h.only(stack_run, h.LAYER).inputs["layerName"] == f"dofs-python-deps-{env}"
    safety_net = {f"dofs-order-execution-ended-{env}"} if env == "dev" else set()  # STANDARD only
    assert {r.inputs["name"] for r in stack_run.of_type(h.EVENT_RULE)} == {
        f"dofs-order-reconciler-{env}",
        *safety_net,
    }


def test_logical_names_are_unique_per_type(stack_run: ProgramRun) -> None:
    keys = Counter((r.type, r.name) for r in stack_run.resources)
    assert [key for key, count in keys.items() if count > 1] == []


def test_dev_and_prod_physical_names_never_collide(dev_run: ProgramRun, prod_run: ProgramRun) -> None:
    """Both stacks can live in one account: no named AWS resource of one is named like the other's."""

    def physical(run: ProgramRun) -> set[tuple[str, str]]:
        names = set()
        for r in run.resources:
            for key in ("name", "layerName", "stageName"):
                if isinstance(r.inputs.get(key), str):
                    names.add((r.type, r.inputs[key]))
        return names

    dev_names, prod_names = physical(dev_run), physical(prod_run)
    assert len(dev_names) >= 15
    assert dev_names.isdisjoint(prod_names)
