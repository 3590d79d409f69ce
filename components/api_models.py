"""The order API's bodies as pydantic models: the source of its OpenAPI description.

Only ``components.api_description`` uses them, when it generates ``handlers/openapi.json``;
no handler imports pydantic (cold start). Every limit comes from the constants the edge
enforces (``handlers.order_shape``, ``handlers.api_routes``), so the two cannot drift, and
a unit test checks that the document accepts exactly the bodies the edge accepts.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from handlers.models import CENT, FailureStage, OrderStatus
from handlers.order_shape import MAX_ITEMS, MAX_MONEY, MAX_QUANTITY, MAX_TEXT_LENGTH

# At least one character that is not blank, and none that is a control character (the edge
# also refuses lone surrogates and unassigned code points, which a pattern cannot name).
_NOT_CONTROL = r"[^\x00-\x1f\x7f-\x9f]"
TEXT_PATTERN = rf"^{_NOT_CONTROL}*[^\s\x00-\x1f\x7f-\x9f]{_NOT_CONTROL}*$"
# Money in a response: a decimal string with two places, as the API writes it.
MONEY_TEXT_PATTERN = r"^\d+\.\d{2}$"

Text = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_TEXT_LENGTH,
        pattern=TEXT_PATTERN,
        description="Not blank; no control characters, lone surrogates or unassigned code points.",
    ),
]
Money = Annotated[
    Decimal,
    Field(
        ge=0,
        le=MAX_MONEY,
        multiple_of=CENT,
        description="A JSON number (not a string) with at most two decimal places.",
    ),
]
MoneyText = Annotated[str, Field(pattern=MONEY_TEXT_PATTERN, description="Money as a decimal string.")]


def _no_default(schema: JsonSchemaValue) -> None:
    """An optional field is left out, never sent empty or null: its default is not a value."""
    schema.pop("default", None)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class OrderItem(_Strict):
    product_id: Text
    quantity: Annotated[
        int, Field(ge=1, le=MAX_QUANTITY, description="Written as an integer: 2, not 2.0 or 2e0.")
    ]
    price: Money


class ShippingAddress(_Strict):
    street: Text
    city: Text
    state: Text
    zip: Text
    country: Text = Field(default="", json_schema_extra=_no_default)


class Order(_Strict):
    """An order as ``POST /order`` takes it. Rules across fields (the total is the sum of
    the items) are the workflow's: an order that breaks one is accepted and ends REJECTED."""

    customer_id: Text
    items: Annotated[list[OrderItem], Field(min_length=1, max_length=MAX_ITEMS)]
    total_amount: Money
    shipping_address: ShippingAddress


class OrderAccepted(_Strict):
    order_id: str
    status: OrderStatus
    status_url: str
    execution_arn: str | None = Field(description="null while the reconciler has still to start the workflow")


class OrderLine(_Strict):
    product_id: str
    quantity: int
    price: MoneyText | None


class Failure(_Strict):
    stage: FailureStage
    reasons: list[str]


class OrderView(_Strict):
    """An order as ``GET /orders/{order_id}`` shows it; the fields of its content appear
    once the workflow has stored it, the timestamps as it goes."""

    order_id: str
    status: OrderStatus
    created_at: str | None
    updated_at: str | None
    fulfillment_attempts: int
    customer_id: str = ""
    total_amount: MoneyText | None = None
    items: list[OrderLine] = []
    validated_at: str = ""
    fulfilled_at: str = ""
    failed_at: str = ""
    failure: Failure | None = None


class Health(_Strict):
    status: Literal["healthy"]
    service: str
    environment: str
    time: str


class ApiError(BaseModel):
    """Every error: a code for programs and a message for people. Some carry details."""

    model_config = ConfigDict(extra="allow")

    error: str
    message: str


class InvalidOrder(_Strict):
    error: Literal["invalid_order"]
    message: str
    problems: list[str] = Field(description="Every field at fault, one reason each.")


class OrderNotFound(_Strict):
    error: Literal["order_not_found"]
    message: str
    order_id: str


class EdgeJsonSchema(GenerateJsonSchema):
    """pydantic's JSON Schema, with a ``Decimal`` input as a number only: the edge refuses
    money written as a string."""

    def decimal_schema(self, schema: core_schema.DecimalSchema) -> JsonSchemaValue:
        generated = super().decimal_schema(schema)
        if self.mode == "validation":
            number: JsonSchemaValue = generated["anyOf"][0]
            return number
        return generated
