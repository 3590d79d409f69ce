"""The REST API: routes from handlers.api_routes, proxy integrations, stage, throttling, redeploys."""

from __future__ import annotations

import re

import pytest

import components.order_api
import handlers.api_routes
from handlers.api_routes import RESOURCES, ROUTES, Operation, Route
from local.recorded_program import ProgramRun, RecordedResource, record_program
from tests.infra import helpers as h


def _handler_invoke_arn(run: ProgramRun) -> str:
    arn: str = h.function(run, h.API_HANDLER).outputs["invokeArn"]
    return arn


def _assert_proxied(run: ProgramRun, path: str, method: str) -> None:
    methods = h.api_methods(run)
    integrations = h.api_methods(run, h.API_INTEGRATION)
    assert (path, method) in methods, f"no {method} {path}"
    assert methods[(path, method)].inputs["authorization"] == "NONE"
    integration = integrations.get((path, method))
    assert integration is not None, f"no integration for {method} {path}"
    assert integration.inputs["type"] == "AWS_PROXY"
    assert integration.inputs["integrationHttpMethod"] == "POST"
    assert integration.inputs["uri"] == _handler_invoke_arn(run)


# Whether "/" has an ANY is test_the_root_path_reaches_the_handler_too's business alone.
ROOT_FALLBACK = ("/", "ANY")


def _methods_off_root(run: ProgramRun, typ: str = h.API_METHOD) -> set[tuple[str, str]]:
    return set(h.api_methods(run, typ)) - {ROOT_FALLBACK}


def _expected_methods(routes: tuple[Route, ...]) -> set[tuple[str, str]]:
    resources = {route.resource for route in routes}
    explicit = {(route.resource, route.method) for route in routes}
    return explicit | {(resource, "ANY") for resource in (*resources, h.CATCH_ALL_PATH)}


def _stage(run: ProgramRun) -> RecordedResource:
    return h.only(run, h.API_STAGE)


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.resource}")
def test_every_route_is_proxied_to_the_api_handler(stack_run: ProgramRun, route: Route) -> None:
    _assert_proxied(stack_run, route.resource, route.method)


@pytest.mark.parametrize("path", [*RESOURCES, h.CATCH_ALL_PATH])
def test_every_resource_has_an_any_fallback(stack_run: ProgramRun, path: str) -> None:
    _assert_proxied(stack_run, path, "ANY")


def test_methods_are_exactly_the_routes_and_fallbacks(stack_run: ProgramRun) -> None:
    assert _methods_off_root(stack_run) == _expected_methods(ROUTES)
    assert _methods_off_root(stack_run, h.API_INTEGRATION) == _expected_methods(ROUTES)


def test_the_root_path_reaches_the_handler_too(stack_run: ProgramRun) -> None:
    """OrderApi promises the handler's JSON 404 for unknown paths, not API Gateway's 403.

    ``{proxy+}`` does not match ``/`` itself, so the root resource needs its own ANY.
    """
    _assert_proxied(stack_run, "/", "ANY")


def test_resources_form_the_route_tree(stack_run: ProgramRun) -> None:
    root = h.only(stack_run, h.REST_API).outputs["rootResourceId"]
    paths = h.api_paths(stack_run)
    by_id = {h.resource_id(r): r for r in stack_run.of_type(h.API_RESOURCE)}
    for path, rid in paths.items():
        if path == "/":
            continue
        parent_path = path.rsplit("/", 1)[0] or "/"
        assert by_id[rid].inputs["parentId"] == paths[parent_path], path
    assert paths["/orders/{order_id}"] != paths["/orders"]
    assert by_id[paths["/orders/{order_id}"]].inputs["parentId"] == paths["/orders"]
    assert by_id[paths["/orders/{order_id}"]].inputs["pathPart"] == "{order_id}"
    assert by_id[paths[h.CATCH_ALL_PATH]].inputs["parentId"] == root
    assert by_id[paths[h.CATCH_ALL_PATH]].inputs["pathPart"] == "{proxy+}"


def test_every_resource_belongs_to_the_rest_api(stack_run: ProgramRun) -> None:
    api_id = h.resource_id(h.only(stack_run, h.REST_API))
    for typ in (h.API_RESOURCE, h.API_METHOD, h.API_INTEGRATION, h.API_DEPLOYMENT, h.API_STAGE):
        for resource in stack_run.of_type(typ):
            assert resource.inputs["restApi"] == api_id, (typ, resource.name)


def test_route_patterns_match_the_api_gateway_paths() -> None:
    """The handler's own router recognises a concrete path under every routed resource."""
    for route in ROUTES:
        concrete = re.sub(r"\{[^}]+\}", "abc-123", route.resource)
        assert route.pattern.match(concrete), route


def test_api_gateway_may_invoke_the_handler_from_this_api_only(stack_run: ProgramRun) -> None:
    (permission,) = [
        p for p in stack_run.of_type(h.PERMISSION) if p.inputs["principal"] == "apigateway.amazonaws.com"
    ]
    handler = h.function(stack_run, h.API_HANDLER)
    assert permission.inputs["action"] == "lambda:InvokeFunction"
    assert permission.inputs["principal"] == "apigateway.amazonaws.com"
    assert permission.inputs["function"] in {handler.inputs["name"], handler.outputs["arn"]}
    execution_arn = h.only(stack_run, h.REST_API).outputs["executionArn"]
    assert permission.inputs["sourceArn"] == f"{execution_arn}/*/*"


def test_stage_is_named_after_the_environment_and_traced(stack_run: ProgramRun) -> None:
    stage = _stage(stack_run)
    assert stage.inputs["stageName"] == stack_run.stack
    assert stage.inputs["xrayTracingEnabled"] is True
    assert stage.inputs["deployment"] == h.resource_id(h.only(stack_run, h.API_DEPLOYMENT))


def test_throttling_comes_from_config(stack_run: ProgramRun, config: h.StackConfig) -> None:
    settings = h.only(stack_run, h.API_METHOD_SETTINGS)
    assert settings.inputs["stageName"] == _stage(stack_run).inputs["stageName"]
    assert settings.inputs["methodPath"] == "*/*"
    throttling = settings.inputs["settings"]
    assert throttling["throttlingRateLimit"] == float(config.decimal("dofs:apiThrottleRateLimit"))
    assert throttling["throttlingBurstLimit"] == config.integer("dofs:apiThrottleBurstLimit")


def test_prod_allows_more_traffic_than_dev(dev_run: ProgramRun, prod_run: ProgramRun) -> None:
    def limits(run: ProgramRun) -> tuple[float, float]:
        throttling = h.only(run, h.API_METHOD_SETTINGS).inputs["settings"]
        return throttling["throttlingRateLimit"], throttling["throttlingBurstLimit"]

    (dev_rate, dev_burst), (prod_rate, prod_burst) = limits(dev_run), limits(prod_run)
    assert prod_rate > dev_rate and prod_burst > dev_burst
    assert dev_burst >= dev_rate and prod_burst >= prod_rate


def test_api_url_is_the_stage_invoke_url(stack_run: ProgramRun) -> None:
    assert stack_run.outputs["api_url"] == _stage(stack_run).outputs["invokeUrl"]


def test_deployment_has_a_redeployment_hash(stack_run: ProgramRun) -> None:
    assert re.fullmatch(r"[0-9a-f]{64}", h.redeployment_hash(stack_run))


def test_redeployment_hash_is_stable_on_an_identical_run(dev_run: ProgramRun) -> None:
    assert h.redeployment_hash(record_program("dev")) == h.redeployment_hash(dev_run)


def _run_with_routes(monkeypatch: pytest.MonkeyPatch, routes: tuple[Route, ...]) -> ProgramRun:
    resources = tuple(dict.fromkeys(route.resource for route in routes))
    for module in (handlers.api_routes, components.order_api):
        monkeypatch.setattr(module, "ROUTES", routes)
        monkeypatch.setattr(module, "RESOURCES", resources)
    return record_program("dev")


@pytest.mark.parametrize(
    "added",
    [
        Route("DELETE", "/orders/{order_id}", Operation.GET_ORDER),  # a method on an existing resource
        Route("GET", "/orders/{order_id}/events", Operation.GET_ORDER),  # a new resource
    ],
    ids=["new-method", "new-resource"],
)
def test_a_route_change_changes_the_redeployment_hash(
    monkeypatch: pytest.MonkeyPatch, dev_run: ProgramRun, added: Route
) -> None:
    routes = (*ROUTES, added)
    changed = _run_with_routes(monkeypatch, routes)
    _assert_proxied(changed, added.resource, added.method)
    assert _methods_off_root(changed) == _expected_methods(routes)
    assert h.redeployment_hash(changed) != h.redeployment_hash(dev_run)


def test_a_removed_route_changes_the_redeployment_hash(
    monkeypatch: pytest.MonkeyPatch, dev_run: ProgramRun
) -> None:
    routes = tuple(r for r in ROUTES if r.resource != "/health")
    assert len(routes) == len(ROUTES) - 1
    changed = _run_with_routes(monkeypatch, routes)
    assert ("/health", "GET") not in h.api_methods(changed)
    assert h.redeployment_hash(changed) != h.redeployment_hash(dev_run)
