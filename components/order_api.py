"""OrderApi: the REST API in front of api_handler.

Routes come from ``handlers.api_routes``, the same table the handler routes with.
Every resource (the root too) also gets an ``ANY`` method and unknown paths a
``{proxy+}`` catch-all, all proxied to the handler, so a wrong method gets the
handler's JSON 405 and an unknown path its JSON 404 instead of API Gateway's 403
"Missing Authentication Token".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.config import StackSettings
from components.iam import allow
from components.order_tables import OrderTables
from components.python_function import LambdaPackage, PythonFunction, PythonFunctionArgs
from handlers import settings as env
from handlers.api_routes import RESOURCES, ROUTES

ROOT_RESOURCE = "/"
CATCH_ALL_RESOURCE = "/{proxy+}"
ORDER_TABLE_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]


@dataclass
class OrderApiArgs:
    settings: StackSettings
    tables: OrderTables
    state_machine_arn: pulumi.Input[str]
    package: LambdaPackage


def _path_slug(resource: str) -> str:
    """``/orders/{order_id}`` → ``orders-order_id``; ``/`` → ``root``."""
    slug = resource.strip("/").replace("{", "").replace("}", "").replace("+", "-plus").replace("/", "-")
    return slug or "root"


class OrderApi(pulumi.ComponentResource):
    handler: PythonFunction
    rest_api: aws.apigateway.RestApi
    stage: aws.apigateway.Stage
    api_url: pulumi.Output[str]

    def __init__(self, name: str, args: OrderApiArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dofs:index:OrderApi", name, None, opts)
        settings = args.settings
        envname = settings.environment
        child = pulumi.ResourceOptions(parent=self)
        orders = args.tables.orders

        self.handler = PythonFunction(
            "api-handler",
            PythonFunctionArgs(
                function_name=f"dofs-api-handler-{envname}",
                handler="handlers.api_handler.handler",
                description="Order API: accepts orders and reports their status",
                package=args.package,
                settings=settings,
                environment={
                    env.ORDERS_TABLE_NAME: orders.name,
                    env.STEP_FUNCTION_ARN: args.state_machine_arn,
                    env.MAX_ORDER_BODY_BYTES: str(settings.max_order_body_bytes),
                    env.ORDER_DUE_SECONDS: str(settings.order_due_seconds()),
                    env.RECONCILE_RECEIVED_AFTER_SECONDS: str(settings.received_stuck_after_seconds()),
                },
                statements=[
                    allow(ORDER_TABLE_ACTIONS, [orders.arn]),
                    allow(["states:StartExecution"], [args.state_machine_arn]),
                ],
            ),
            opts=child,
        )
        self.rest_api = aws.apigateway.RestApi(
            "rest-api",
            name=f"dofs-api-{envname}",
            description="DOFS order API",
            endpoint_configuration={"types": "REGIONAL"},
            opts=child,
        )
        resources = self._resources()
        integrations: list[aws.apigateway.Integration] = []
        for resource, method in self._methods():
            integrations.append(self._proxy(resource, method, resources[resource]))

        self.deployment = aws.apigateway.Deployment(
            "deployment",
            rest_api=self.rest_api.id,
            description="DOFS order API",
            triggers={"redeployment": self._fingerprint(integrations)},
            opts=pulumi.ResourceOptions(parent=self, depends_on=integrations),
        )
        self.stage = aws.apigateway.Stage(
            "stage",
            rest_api=self.rest_api.id,
            deployment=self.deployment.id,
            stage_name=envname,
            xray_tracing_enabled=True,
            opts=child,
        )
        aws.apigateway.MethodSettings(
            "throttling",
            rest_api=self.rest_api.id,
            stage_name=self.stage.stage_name,
            method_path="*/*",
            settings={
                "throttling_rate_limit": float(settings.api_throttle_rate_limit),
                "throttling_burst_limit": settings.api_throttle_burst_limit,
                "metrics_enabled": True,
            },
            opts=child,
        )
        aws.lambda_.Permission(
            "api-invoke-permission",
            action="lambda:InvokeFunction",
            function=self.handler.function.name,
            principal="apigateway.amazonaws.com",
            source_arn=self.rest_api.execution_arn.apply(lambda arn: f"{arn}/*/*"),
            opts=child,
        )
        self.api_url = self.stage.invoke_url
        self.register_outputs({"api_url": self.api_url, "rest_api_id": self.rest_api.id})

    @staticmethod
    def _methods() -> list[tuple[str, str]]:
        explicit = [(route.resource, route.method) for route in ROUTES]
        fallback = [(resource, "ANY") for resource in (ROOT_RESOURCE, *RESOURCES, CATCH_ALL_RESOURCE)]
        return explicit + fallback

    def _resources(self) -> dict[str, pulumi.Input[str]]:
        """API Gateway resources for every path prefix, parents first."""
        ids: dict[str, pulumi.Input[str]] = {"": self.rest_api.root_resource_id}
        ids[ROOT_RESOURCE] = ids[""]
        for resource in (*RESOURCES, CATCH_ALL_RESOURCE):
            prefix = ""
            for part in resource.strip("/").split("/"):
                path = f"{prefix}/{part}"
                if path not in ids:
                    ids[path] = aws.apigateway.Resource(
                        f"path-{_path_slug(path)}",
                        rest_api=self.rest_api.id,
                        parent_id=ids[prefix],
                        path_part=part,
                        opts=pulumi.ResourceOptions(parent=self),
                    ).id
                prefix = path
        return ids

    def _proxy(
        self, resource: str, method: str, resource_id: pulumi.Input[str]
    ) -> aws.apigateway.Integration:
        slug = f"{method.lower()}-{_path_slug(resource)}"
        api_method = aws.apigateway.Method(
            slug,
            rest_api=self.rest_api.id,
            resource_id=resource_id,
            http_method=method,
            authorization="NONE",
            opts=pulumi.ResourceOptions(parent=self),
        )
        return aws.apigateway.Integration(
            f"{slug}-integration",
            rest_api=self.rest_api.id,
            resource_id=resource_id,
            http_method=api_method.http_method,
            type="AWS_PROXY",
            integration_http_method="POST",
            uri=self.handler.function.invoke_arn,
            opts=pulumi.ResourceOptions(parent=self),
        )

    @staticmethod
    def _fingerprint(integrations: list[aws.apigateway.Integration]) -> pulumi.Output[str]:
        """Changes whenever a route, method or integration changes, forcing a redeploy."""
        described = [
            pulumi.Output.all(i.resource_id, i.http_method, i.uri, i.type).apply(
                lambda v: "|".join(map(str, v))
            )
            for i in integrations
        ]
        return pulumi.Output.all(*described).apply(
            lambda parts: hashlib.sha256("\n".join(sorted(parts)).encode()).hexdigest()
        )
