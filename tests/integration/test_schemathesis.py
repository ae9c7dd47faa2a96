"""Property-based fuzzing of the whole merchant API from its own OpenAPI document (schemathesis).

Bounded so `make test` stays fast: for every operation, a few dozen valid and a few dozen
invalid requests generated from the document, sent with a real API key to the local stack. Any
5xx, any status the document does not list, any response breaking its schema, or an invalid
request that is accepted, fails the test. One check is left out: "schema-valid data must be
accepted". Our validation knows more than JSON Schema can say (a currency in use today, a
dialable phone number, installments numbered in order), so a schema-valid body may rightly be a
400 naming the field. (We drive schemathesis' Hypothesis strategies
directly: its pytest plugin does not yet run under pytest 9.)
"""

from __future__ import annotations

import os
from typing import Any, cast

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.http import request
from tests.integration.conftest import Stack, make_merchant

EXAMPLES_PER_OPERATION = 20
# CI replays the same generated requests every run, so a failure reproduces; set
# RECOBRO_FUZZ_RANDOM=1 to explore new inputs instead.
DERANDOMIZE = os.environ.get("RECOBRO_FUZZ_RANDOM") != "1"


def _operations(stack: Stack) -> list[schemathesis.APIOperation]:
    document = request("GET", stack.urls["api"] + "/v1/openapi.json").json()
    results = schemathesis.openapi.from_dict(document).get_all_operations()
    return [cast(Any, result).ok() for result in results]  # .ok() raises if an operation is invalid


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_no_generated_request_breaks_the_api_or_its_contract(stack: Stack, mode: GenerationMode):
    fuzzer = make_merchant(stack, "Fuzz & Co")
    headers = {"Authorization": f"Bearer {fuzzer.api_key}"}
    operations = _operations(stack)
    assert len(operations) >= 15
    unfuzzable: list[str] = []
    for operation in operations:

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=DERANDOMIZE,
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def fuzz(case: schemathesis.Case) -> None:
            case.call_and_validate(
                base_url=stack.urls["api"], headers=headers, excluded_checks=[positive_data_acceptance]
            )

        try:
            fuzz()
        except Unsatisfiable:
            # Nothing about this operation can be made invalid (no body, no free parameters).
            assert mode is GenerationMode.NEGATIVE
            unfuzzable.append(f"{operation.method.upper()} {operation.path}")
    assert len(unfuzzable) < len(operations) / 2, unfuzzable
