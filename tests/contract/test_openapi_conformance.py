"""schemathesis against the local stack, from the document the API serves.

At least ``MIN_REQUESTS`` generated requests, valid and invalid, over every operation; each
response must not be a 5xx, must have a documented status and content type, and its body
and headers must match the document's schemas.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from local.api_key import api_key_headers, first_api_key
from tests.integration.stack_process import StackProcess

MIN_REQUESTS = 1_000
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
# Examples per operation: (valid, invalid). Generating an invalid order costs ~90 ms and a
# valid one starts a workflow (~200 ms); a GET costs ~30 ms all told, so the GETs make up
# the count. POST /orders runs the same code as POST /order, so it gets fewer. GET /health
# has one case; schemathesis leaves out GET /openapi.json, the document itself.
EXAMPLES: dict[str, tuple[int, int]] = {
    "GET /health": (1, 0),
    "POST /order": (40, 200),
    "POST /orders": (20, 80),
    "GET /orders/{order_id}": (200, 470),
}


def _exercise(
    operation: Any, mode: GenerationMode, examples: int, call: dict[str, Any], requests: Counter[str]
) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call(**call)
        requests[operation.label] += 1
        case.validate_response(response, checks=CHECKS, headers=call["headers"])

    run()


def _auth_headers(stack: StackProcess) -> dict[str, str]:
    """The stack's first API key when it has any (api_key auth), as a client sends it."""
    return api_key_headers(first_api_key(stack.outputs))


def test_every_response_matches_the_served_description(
    contract_stack: StackProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    base_url = contract_stack.api_url
    call = {"base_url": base_url, "headers": _auth_headers(contract_stack), "timeout": 30}
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    requests: Counter[str] = Counter()
    started = time.monotonic()

    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the served document has an invalid operation: {result.err()}"
        operation = result.ok()
        valid, invalid = EXAMPLES[operation.label]
        _exercise(operation, GenerationMode.POSITIVE, valid, call, requests)
        if invalid:
            _exercise(operation, GenerationMode.NEGATIVE, invalid, call, requests)

    elapsed = time.monotonic() - started
    total = sum(requests.values())
    by_operation = ", ".join(f"{label}: {count}" for label, count in sorted(requests.items()))
    with capsys.disabled():  # into the tier's log, pass or fail
        print(f"\nschemathesis: {total} requests in {elapsed:.1f} s ({by_operation})")
    assert total >= MIN_REQUESTS, f"only {total} requests generated: {by_operation}"
