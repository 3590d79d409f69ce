"""The hand-written parsers of what the functions receive: good input becomes its dataclass,
and each kind of bad input is refused with an error naming the field at fault."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest

from handlers import validator
from handlers.errors import ConfigurationError, MalformedInputError
from handlers.faults import FaultPlan, FaultPoint
from handlers.http import ApiError, parse_event
from handlers.messages import FulfillmentMessage, WorkflowInput
from handlers.order_shape import Order, OrderItem, ShippingAddress, parse_order
from handlers.sqs_batch import sqs_records
from handlers.storage_requests import (
    RecordRejection,
    RecordWorkflowFailure,
    StoreValidatedOrder,
    parse_storage_request,
)
from tests.unit.support import api_event, fixture_data, fixture_text, sqs_record

# --- the order ----------------------------------------------------------------------------------


def order_as_the_workflow_carries_it() -> dict[str, Any]:
    """The validator's real output for the fixture order: money as decimal strings."""
    output = validator.handler({"order_id": "o-1", "request_body": fixture_text("valid_order.json")}, None)
    order: dict[str, Any] = output["order"]
    return order


def test_an_order_reads_back_from_the_workflow_as_the_same_exact_order() -> None:
    carried = order_as_the_workflow_carries_it()

    order = parse_order(carried)

    assert order == parse_order(fixture_data("valid_order.json"))
    assert order.total_amount == Decimal("60.08")
    assert [(item.product_id, item.quantity, item.price) for item in order.items] == [
        ("prod_001", 2, Decimal("29.99")),
        ("prod_002", 1, Decimal("0.10")),
    ]
    assert all(isinstance(item.quantity, int) for item in order.items)
    assert carried["total_amount"] == "60.08"
    assert [item["price"] for item in carried["items"]] == ["29.99", "0.10"]


def test_an_order_holds_text_stripped_and_money_in_cents() -> None:
    data = fixture_data("valid_order.json")
    data["customer_id"] = "  cust_123 "
    data["items"] = [{"product_id": " p ", "quantity": 3, "price": Decimal("1E+1")}]
    data["total_amount"] = 30

    order = parse_order(data)

    assert order.customer_id == "cust_123"
    assert order.items == (OrderItem(product_id="p", quantity=3, price=Decimal("10.00")),)
    assert str(order.items[0].price) == "10.00"
    assert str(order.total_amount) == "30.00"


def test_an_absent_country_is_left_out_and_a_present_one_kept() -> None:
    without = parse_order(fixture_data("valid_order.json"))
    data = fixture_data("valid_order.json")
    data["shipping_address"]["country"] = " IN "

    assert "country" not in without.as_dict()["shipping_address"]
    assert without.shipping_address.country is None
    assert parse_order(data).as_dict()["shipping_address"]["country"] == "IN"


def test_a_null_country_from_an_older_validator_counts_as_absent() -> None:
    carried = order_as_the_workflow_carries_it()
    carried["shipping_address"]["country"] = None

    assert parse_order(carried) == parse_order(order_as_the_workflow_carries_it())


def test_as_dict_keeps_decimal_and_as_json_data_writes_strings() -> None:
    order = parse_order(fixture_data("valid_order.json"))

    assert order.as_dict()["total_amount"] == Decimal("60.08")
    assert isinstance(order.as_dict()["items"][0]["price"], Decimal)
    assert order.as_json_data()["items"][0] == {"product_id": "prod_001", "quantity": 2, "price": "29.99"}
    assert json.loads(json.dumps(order.as_json_data())) == order.as_json_data()


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda o: o.pop("customer_id"), "customer_id: is required"),
        (lambda o: o.update(coupon="X"), "coupon: unknown field"),
        (lambda o: o.update(items=[]), "items: must contain at least one item"),
        (
            lambda o: o["items"][0].update(price="29.999"),
            "items[0].price: must have at most 2 decimal places",
        ),
        (lambda o: o["items"][0].update(price="-1.00"), "items[0].price: must be greater than or equal"),
        (lambda o: o["items"][0].update(price="cheap"), "items[0].price: must be a number"),
        (lambda o: o["items"][0].update(price=29.99), "items[0].price: must be a number"),
        (lambda o: o["items"][1].update(quantity="1"), "items[1].quantity: must be an integer"),
        (lambda o: o.update(total_amount="NaN"), "total_amount: must be a number"),
        (lambda o: o["shipping_address"].pop("zip"), "shipping_address.zip: is required"),
    ],
    ids=[
        "missing field",
        "unknown field",
        "no items",
        "three decimals",
        "negative price",
        "price not a number",
        "price as float",
        "quantity as text",
        "NaN total",
        "missing zip",
    ],
)
def test_a_malformed_order_is_refused_naming_the_field(change: Any, named: str) -> None:
    carried = order_as_the_workflow_carries_it()
    change(carried)

    with pytest.raises(MalformedInputError) as raised:
        parse_order(carried)

    assert named in str(raised.value)


@pytest.mark.parametrize("data", [None, [], "order", 7], ids=["null", "list", "string", "number"])
def test_something_that_is_not_an_object_is_not_an_order(data: Any) -> None:
    with pytest.raises(MalformedInputError, match="order: must be a JSON object"):
        parse_order(data)


def test_the_order_dataclasses_refuse_invalid_values_when_built_directly() -> None:
    address = ShippingAddress(street="1 Main St", city="Town", state="CA", zip="12345")
    item = OrderItem(product_id="p", quantity=1, price=Decimal("1.00"))

    with pytest.raises(MalformedInputError, match="quantity: must be greater than 0"):
        OrderItem(product_id="p", quantity=0, price=Decimal("1.00"))
    with pytest.raises(MalformedInputError, match=r"shipping_address\.city: must be a non-empty string"):
        ShippingAddress(street="1 Main St", city=" ", state="CA", zip="12345")
    with pytest.raises(MalformedInputError, match="items: must hold 1 to 100 items"):
        Order(customer_id="c", items=(), total_amount=Decimal(0), shipping_address=address)
    with pytest.raises(MalformedInputError, match="total_amount: must have at most 2 decimal places"):
        Order(customer_id="c", items=(item,), total_amount=Decimal("1.001"), shipping_address=address)


# --- the workflow's input -------------------------------------------------------------------------


def test_workflow_input_reads_its_two_strings() -> None:
    request = WorkflowInput.from_event({"order_id": "o-1", "request_body": '{"a": 1}'})

    assert request == WorkflowInput(order_id="o-1", request_body='{"a": 1}')


@pytest.mark.parametrize(
    ("event", "named"),
    [
        ("o-1", "workflow input: must be a JSON object, got str"),
        ({"order_id": "o-1"}, "request_body: is required"),
        ({"order_id": 1, "request_body": "{}"}, "order_id: must be a string"),
        ({"order_id": "o", "request_body": "{}", "extra": 1}, "extra: unknown field"),
    ],
    ids=["not an object", "missing body", "numeric id", "unknown field"],
)
def test_a_malformed_workflow_input_is_refused_naming_the_field(event: Any, named: str) -> None:
    with pytest.raises(MalformedInputError) as raised:
        WorkflowInput.from_event(event)

    assert named in str(raised.value)


def test_workflow_input_json_is_compact_utf8_that_reads_back() -> None:
    body = '{"customer_id": "Zoë \\u00e9"}\n'
    written = WorkflowInput(order_id="o-1", request_body=body).to_json()

    assert "Zoë" in written
    assert ", " not in written.replace(body.replace("\n", "\\n"), "")
    assert WorkflowInput.from_event(json.loads(written)).request_body == body


# --- order_storage's requests ---------------------------------------------------------------------


def test_each_operation_reads_into_its_own_request() -> None:
    store = parse_storage_request(
        {"operation": "store_validated", "order_id": "o-1", "order": order_as_the_workflow_carries_it()}
    )
    reject = parse_storage_request(
        {"operation": "record_rejection", "order_id": "o-2", "reasons": ["a", "b"]}
    )
    failure = parse_storage_request({"operation": "record_workflow_failure", "order_id": "o-3"})

    assert isinstance(store, StoreValidatedOrder)
    assert store.order == parse_order(fixture_data("valid_order.json"))
    assert reject == RecordRejection(order_id="o-2", reasons=("a", "b"))
    assert failure == RecordWorkflowFailure(order_id="o-3", error="Unknown", cause="")
    assert [r.operation for r in (store, reject, failure)] == [
        "store_validated",
        "record_rejection",
        "record_workflow_failure",
    ]


@pytest.mark.parametrize(
    ("event", "named"),
    [
        (["store_validated"], "storage request: must be a JSON object, got list"),
        ({"order_id": "o"}, "storage request: operation: is required"),
        ({"operation": "delete_order", "order_id": "o"}, "operation: must be one of store_validated, "),
        ({"operation": 3, "order_id": "o"}, "operation: must be one of"),
        (
            {"operation": "record_rejection", "reasons": ["x"]},
            "record_rejection request: order_id: is required",
        ),
        (
            {"operation": "record_rejection", "order_id": "o", "reasons": []},
            "reasons: must be a non-empty list",
        ),
        (
            {"operation": "record_rejection", "order_id": "o", "reasons": [1]},
            "reasons: must be a non-empty list",
        ),
        ({"operation": "record_workflow_failure", "order_id": "o", "error": 5}, "error: must be a string"),
        ({"operation": "record_workflow_failure", "order_id": "o", "x": "y"}, "x: unknown field"),
        (
            {"operation": "store_validated", "order_id": "o", "order": {"customer_id": "c"}},
            "store_validated request: not an order: items: is required",
        ),
    ],
    ids=[
        "not an object",
        "no operation",
        "unknown operation",
        "numeric operation",
        "no order id",
        "no reasons",
        "reasons not text",
        "numeric error",
        "unknown field",
        "incomplete order",
    ],
)
def test_a_malformed_storage_request_is_refused_naming_the_field(event: Any, named: str) -> None:
    with pytest.raises(MalformedInputError) as raised:
        parse_storage_request(event)

    assert named in str(raised.value)


# --- the order queue's messages -------------------------------------------------------------------


def test_a_fulfillment_message_round_trips_and_ignores_other_fields() -> None:
    message = FulfillmentMessage(order_id="o-1")

    assert message.to_json() == '{"order_id":"o-1"}'
    assert FulfillmentMessage.from_json(message.to_json()) == message
    assert FulfillmentMessage.from_json('{"order_id": " o-1 ", "sent_by": "x"}') == message


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ("{", "fulfillment message: is not JSON"),
        ("[" * 5_000 + "]" * 5_000, "fulfillment message: is not JSON"),
        ('["o-1"]', "must be a JSON object, got list"),
        ("{}", "order_id: is required"),
        ('{"order_id": "  "}', "order_id: must be a non-blank string"),
        ('{"order_id": 7}', "order_id: must be a non-blank string"),
        (json.dumps({"order_id": "o" * 257}), "of at most 256 characters"),
    ],
    ids=["truncated", "deep nesting", "list", "no id", "blank id", "numeric id", "overlong id"],
)
def test_a_body_that_is_not_a_fulfillment_message_is_refused(body: str, named: str) -> None:
    with pytest.raises(MalformedInputError) as raised:
        FulfillmentMessage.from_json(body)

    assert named in str(raised.value)


def test_an_sqs_event_reads_into_its_records() -> None:
    event = {"Records": [sqs_record("m1", "{}", 3), {"messageId": "m2"}]}

    first, second = sqs_records(event)

    assert (first.message_id, first.body, first.receive_count) == ("m1", "{}", 3)
    assert (second.message_id, second.body, second.receive_count) == ("m2", "", 1)


@pytest.mark.parametrize(
    ("event", "named"),
    [
        ([], "SQS event: must be a JSON object"),
        ({"Messages": []}, "SQS event: Records: is required"),
        ({"Records": {}}, "Records: must be a list"),
        ({"Records": ["m1"]}, "Records[0]: must be a JSON object"),
        ({"Records": [{"body": "{}"}]}, "Records[0]: messageId: is required"),
        ({"Records": [{"messageId": "m", "body": None}]}, "Records[0]: body: must be a string"),
        (
            {"Records": [{"messageId": "m", "attributes": {"n": 1}}]},
            "attributes: must be an object of strings",
        ),
    ],
    ids=[
        "not an object",
        "no records",
        "records not a list",
        "record not an object",
        "no id",
        "null body",
        "attr",
    ],
)
def test_an_event_that_is_not_an_sqs_event_is_refused(event: Any, named: str) -> None:
    with pytest.raises(MalformedInputError) as raised:
        sqs_records(event)

    assert named in str(raised.value)


# --- API Gateway proxy events ---------------------------------------------------------------------


def test_a_proxy_event_reads_into_the_request() -> None:
    event = api_event("POST", "/order", '{"a": 1}', {"Idempotency-Key": "k-1"})

    request = parse_event(event)

    assert (request.method, request.path, request.body) == ("POST", "/order", b'{"a": 1}')
    assert request.header("idempotency-key") == "k-1"
    assert request.header("content-type") == "application/json"
    assert request.stage == event["requestContext"]["stage"]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"httpMethod": ...}, "httpMethod: is required"),
        ({"httpMethod": ""}, "httpMethod: must be a non-empty string"),
        ({"headers": {"Content-Type": 5}}, "headers: must be an object of strings or null"),
        ({"isBase64Encoded": "yes"}, "isBase64Encoded: must be a boolean or null"),
        ({"requestContext": {"stage": 1}}, "requestContext.stage: must be a string or null"),
    ],
    ids=["no method", "empty method", "numeric header", "text flag", "numeric stage"],
)
def test_a_malformed_proxy_event_is_a_400_naming_the_field(change: dict[str, Any], named: str) -> None:
    event = copy.deepcopy(api_event("GET", "/health"))
    for name, value in change.items():
        if value is ...:
            del event[name]
        else:
            event[name] = value

    with pytest.raises(ApiError) as raised:
        parse_event(event)

    assert (raised.value.status, raised.value.code) == (400, "invalid_event")
    assert raised.value.message.startswith("the request is not an API Gateway proxy event: ")
    assert named in raised.value.message


# --- the fault plan -------------------------------------------------------------------------------


def test_a_fault_plan_round_trips_through_its_json() -> None:
    plan = FaultPlan(seed=3, rates={FaultPoint.VALIDATOR: 0.25, FaultPoint.ENQUEUE: 1})

    assert FaultPlan.parse(plan.to_json()) == plan
    assert plan.rate(FaultPoint.ENQUEUE) == 1.0
    assert isinstance(plan.rate(FaultPoint.ENQUEUE), float)


def test_a_fault_plan_built_in_code_is_checked_too() -> None:
    with pytest.raises(ValueError, match=r"rates\.validator: must be from 0 to 1"):
        FaultPlan(rates={FaultPoint.VALIDATOR: 1.5})
    with pytest.raises(ValueError, match="seed: must be an integer"):
        FaultPlan(seed="7")  # type: ignore[arg-type]


def test_a_fault_plan_that_is_not_json_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="not JSON"):
        FaultPlan.parse("{")
