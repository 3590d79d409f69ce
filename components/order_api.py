"""OrderApi: the REST API in front of api_handler.

Routes come from ``handlers.api_routes``, the same table the handler routes with.
Every resource (the root too) also gets an ``ANY`` method and unknown paths a
``{proxy+}`` catch-all, all proxied to the handler, so a wrong method gets the
handler's JSON 405 and an unknown path its JSON 404 instead of API Gateway's 403
"Missing Authentication Token".

``dofs:apiAuth`` protects every method but those of open routes (``Route.authenticated``
False) and the ``ANY`` on a resource whose routes are all open: an API key (``api_key``)
or a SigV4 signature (``iam``). With CORS on, each route's resource gets an ``OPTIONS``
method that needs neither, proxied to the handler, which answers the preflight.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.api_keys import ApiKeys, ApiKeysArgs
from components.config import StackSettings
from components.gateway_responses import GatewayResponses, GatewayResponsesArgs
from components.iam import allow
from components.order_tables import OrderTables
from components.python_function import LambdaPackage, PythonFunction, PythonFunctionArgs
from handlers import settings as env
from handlers.api_routes import RESOURCES, ROUTES

ROOT_RESOURCE = "/"
CATCH_ALL_RESOURCE = "/{proxy+}"
ORDER_TABLE_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
PREFLIGHT_METHOD = "OPTIONS"
# One JSON line per request in the stage's access log ($context variables of API Gateway).
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "apiKeyId": "$context.identity.apiKeyId",
    "caller": "$context.identity.caller",
    "method": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "integrationLatency": "$context.integrationLatency",
    "responseLatency": "$context.responseLatency",
    "errorType": "$context.error.responseType",
}


@dataclass
class OrderApiArgs:
    settings: StackSettings
    tables: OrderTables
    state_machine_arn: pulumi.Input[str]
    package: LambdaPackage


def needs_authentication(resource: str, method: str) -> bool:
    """Whether ``method`` on ``resource`` is protected by the stack's auth mode."""
    if method == PREFLIGHT_METHOD:
        return False
    routes = [route for route in ROUTES if route.resource == resource]
    if method == "ANY":
        return not routes or any(route.authenticated for route in routes)
    return any(route.authenticated for route in routes if route.method == method)


def _path_slug(resource: str) -> str:
    """``/orders/{order_id}`` → ``orders-order_id``; ``/`` → ``root``."""
    slug = resource.strip("/").replace("{", "").replace("}", "").replace("+", "-plus").replace("/", "-")
    return slug or "root"


class OrderApi(pulumi.ComponentResource):
    settings: StackSettings
    handler: PythonFunction
    rest_api: aws.apigateway.RestApi
    deployment: aws.apigateway.Deployment
    stage: aws.apigateway.Stage
    api_url: pulumi.Output[str]
    api_keys: ApiKeys | None
    execute_arn: pulumi.Output[str]

    def __init__(self, name: str, args: OrderApiArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dofs:index:OrderApi", name, None, opts)
        settings = self.settings = args.settings
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
                    env.API_AUTH: settings.api_auth,
                    env.CORS_ALLOW_ORIGINS: json.dumps(list(settings.cors_allow_origins)),
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
        methods: list[aws.apigateway.Method] = []
        integrations: list[aws.apigateway.Integration] = []
        for resource, method in self._methods():
            api_method, integration = self._proxy(resource, method, resources[resource])
            methods.append(api_method)
            integrations.append(integration)
        responses = GatewayResponses(
            "gateway-responses",
            GatewayResponsesArgs(settings=settings, rest_api_id=self.rest_api.id),
            opts=child,
        )
        self.stage = self._deploy(methods, integrations, responses.responses, self._invoke_permission())
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
        self.api_keys = None
        if settings.api_auth == "api_key":
            self.api_keys = ApiKeys(
                "api-keys",
                ApiKeysArgs(
                    settings=settings, rest_api_id=self.rest_api.id, stage_name=self.stage.stage_name
                ),
                opts=child,
            )
        # What an iam caller's policy grants execute-api:Invoke on: every method of this stage.
        self.execute_arn = pulumi.Output.concat(
            self.rest_api.execution_arn, "/", self.stage.stage_name, "/*/*"
        )
        self.api_url = self.stage.invoke_url
        self.register_outputs(
            {"api_url": self.api_url, "rest_api_id": self.rest_api.id, "execute_arn": self.execute_arn}
        )

    def _invoke_permission(self) -> aws.lambda_.Permission:
        return aws.lambda_.Permission(
            "api-invoke-permission",
            action="lambda:InvokeFunction",
            function=self.handler.function.name,
            principal="apigateway.amazonaws.com",
            source_arn=self.rest_api.execution_arn.apply(lambda arn: f"{arn}/*/*"),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _deploy(
        self,
        methods: list[aws.apigateway.Method],
        integrations: list[aws.apigateway.Integration],
        responses: list[aws.apigateway.Response],
        permission: aws.lambda_.Permission,
    ) -> aws.apigateway.Stage:
        """The deployment and its stage, which serves only once API Gateway may invoke the handler."""
        self.deployment = aws.apigateway.Deployment(
            "deployment",
            rest_api=self.rest_api.id,
            description="DOFS order API",
            triggers={"redeployment": self._fingerprint(methods, integrations, responses)},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*integrations, *responses, permission]),
        )
        return aws.apigateway.Stage(
            "stage",
            rest_api=self.rest_api.id,
            deployment=self.deployment.id,
            stage_name=self.settings.environment,
            xray_tracing_enabled=True,
            access_log_settings=self._access_log_settings(self.settings),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission]),
        )

    def _access_log_settings(
        self, settings: StackSettings
    ) -> aws.apigateway.StageAccessLogSettingsArgs | None:
        if not settings.api_access_logs:
            return None
        log_group = aws.cloudwatch.LogGroup(
            "access-log",
            name=f"/aws/apigateway/dofs-api-{settings.environment}/access",
            retention_in_days=settings.log_retention_days,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return aws.apigateway.StageAccessLogSettingsArgs(
            destination_arn=log_group.arn, format=json.dumps(ACCESS_LOG_FORMAT)
        )

    def _methods(self) -> list[tuple[str, str]]:
        explicit = [(route.resource, route.method) for route in ROUTES]
        fallback = [(resource, "ANY") for resource in (ROOT_RESOURCE, *RESOURCES, CATCH_ALL_RESOURCE)]
        preflight = [
            (resource, PREFLIGHT_METHOD) for resource in RESOURCES if self.settings.cors_allow_origins
        ]
        return explicit + fallback + preflight

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
    ) -> tuple[aws.apigateway.Method, aws.apigateway.Integration]:
        slug = f"{method.lower()}-{_path_slug(resource)}"
        protected = needs_authentication(resource, method)
        api_method = aws.apigateway.Method(
            slug,
            rest_api=self.rest_api.id,
            resource_id=resource_id,
            http_method=method,
            authorization="AWS_IAM" if protected and self.settings.api_auth == "iam" else "NONE",
            api_key_required=protected and self.settings.api_auth == "api_key",
            opts=pulumi.ResourceOptions(parent=self),
        )
        return api_method, aws.apigateway.Integration(
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
    def _fingerprint(
        methods: list[aws.apigateway.Method],
        integrations: list[aws.apigateway.Integration],
        responses: list[aws.apigateway.Response],
    ) -> pulumi.Output[str]:
        """Changes whenever a route, method, its protection, an integration or a gateway
        response changes, forcing a redeploy."""
        described = [
            *(
                pulumi.Output.json_dumps([m.resource_id, m.http_method, m.authorization, m.api_key_required])
                for m in methods
            ),
            *(pulumi.Output.json_dumps([i.resource_id, i.http_method, i.uri, i.type]) for i in integrations),
            *(
                pulumi.Output.json_dumps(
                    [r.response_type, r.status_code, r.response_templates, r.response_parameters]
                )
                for r in responses
            ),
        ]
        return pulumi.Output.all(*described).apply(
            lambda parts: hashlib.sha256("\n".join(sorted(parts)).encode()).hexdigest()
        )
