"""The public routes of the order API.

Shared by the handler (routing) and by ``components.order_api`` (API Gateway
resources and methods), so the two cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Operation(StrEnum):
    HEALTH = "health"
    CREATE_ORDER = "create_order"
    GET_ORDER = "get_order"
    API_DESCRIPTION = "api_description"


# What the edge accepts in a path parameter and a header; the OpenAPI description says the same.
ORDER_ID_PATTERN = re.compile(r"[A-Za-z0-9-]{1,64}")
IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,255}")


@dataclass(frozen=True)
class Route:
    """One public route: a method on an API Gateway resource, served by one operation."""

    method: str
    resource: str
    operation: Operation
    # False for the routes that stay open whatever the stack's auth mode (dofs:apiAuth).
    authenticated: bool = True

    @property
    def pattern(self) -> re.Pattern[str]:
        segments = [
            f"(?P<{segment[1:-1]}>[^/]+)" if segment.startswith("{") else re.escape(segment)
            for segment in self.resource.split("/")
        ]
        return re.compile("^" + "/".join(segments) + r"/?\Z")


ROUTES: tuple[Route, ...] = (
    Route("GET", "/health", Operation.HEALTH, authenticated=False),
    Route("POST", "/order", Operation.CREATE_ORDER),
    Route("POST", "/orders", Operation.CREATE_ORDER),
    Route("GET", "/orders/{order_id}", Operation.GET_ORDER),
    Route("GET", "/openapi.json", Operation.API_DESCRIPTION, authenticated=False),
)

RESOURCES: tuple[str, ...] = tuple(dict.fromkeys(route.resource for route in ROUTES))
