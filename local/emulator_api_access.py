"""Emulator creators for what guards the API: API keys, usage plans and gateway responses.

The local gateway reads these back from the emulator (``local.gateway_access``), so it
enforces what the program declared, not a copy of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from local.emulator_mocks import EmulatorMocks

Created = tuple[str, dict[str, Any]]


def _api_key(mocks: EmulatorMocks, name: str, inputs: dict[str, Any]) -> Created:
    key = mocks.client("apigateway").create_api_key(
        name=inputs["name"],
        description=inputs.get("description", ""),
        enabled=bool(inputs.get("enabled", True)),
        **({"value": inputs["value"]} if inputs.get("value") else {}),
    )
    return key["id"], {"value": key["value"]}


def _usage_plan(mocks: EmulatorMocks, name: str, inputs: dict[str, Any]) -> Created:
    throttle = inputs.get("throttleSettings") or {}
    quota = inputs.get("quotaSettings") or {}
    plan = mocks.client("apigateway").create_usage_plan(
        name=inputs["name"],
        description=inputs.get("description", ""),
        apiStages=[{"apiId": s["apiId"], "stage": s["stage"]} for s in inputs.get("apiStages") or []],
        throttle={"burstLimit": int(throttle["burstLimit"]), "rateLimit": float(throttle["rateLimit"])},
        quota={"limit": int(quota["limit"]), "period": quota["period"]},
    )
    return plan["id"], {}


def _usage_plan_key(mocks: EmulatorMocks, name: str, inputs: dict[str, Any]) -> Created:
    mocks.client("apigateway").create_usage_plan_key(
        usagePlanId=inputs["usagePlanId"], keyId=inputs["keyId"], keyType=inputs["keyType"]
    )
    return f"{inputs['usagePlanId']}-{inputs['keyId']}", {}


def _gateway_response(mocks: EmulatorMocks, name: str, inputs: dict[str, Any]) -> Created:
    optional = {
        "statusCode": inputs.get("statusCode"),
        "responseParameters": inputs.get("responseParameters"),
        "responseTemplates": inputs.get("responseTemplates"),
    }
    mocks.client("apigateway").put_gateway_response(
        restApiId=inputs["restApiId"],
        responseType=inputs["responseType"],
        **{key: value for key, value in optional.items() if value},
    )
    return f"aggr-{inputs['restApiId']}-{inputs['responseType']}", {}


API_ACCESS_CREATORS: dict[str, Callable[[EmulatorMocks, str, dict[str, Any]], Created]] = {
    "aws:apigateway/apiKey:ApiKey": _api_key,
    "aws:apigateway/usagePlan:UsagePlan": _usage_plan,
    "aws:apigateway/usagePlanKey:UsagePlanKey": _usage_plan_key,
    "aws:apigateway/response:Response": _gateway_response,
}
