"""Schemathesis against the published OpenAPI document: generated calls to every operation with
a real token of a real firm, none answered 5xx and none answered against the document.

Hypothesis drives the cases in a worker thread (it is synchronous); each call is handed to the
test's own event loop, where the app runs (asyncpg's connections belong to that loop).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis.checks import not_a_server_error
from schemathesis.generation.case import Case
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.factories import Firms

# Examples per operation: enough for odd values in every field, few enough for 2 cores.
EXAMPLES = 8


def _check_every_operation(schema_document: dict[str, Any], call: Any) -> None:
    schema = schemathesis.openapi.from_dict(schema_document)
    for result in schema.get_all_operations():
        operation = result.ok()

        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,  # the same cases on every run
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Case) -> None:
            response = call(case)
            case.validate_response(
                response, checks=[not_a_server_error, response_schema_conformance]
            )

        check()


async def test_generated_calls_get_no_server_error_and_match_the_document(
    api_a: httpx.AsyncClient, firms: Firms
) -> None:
    document = (await api_a.get("/api/v1/schema/openapi.json")).json()
    loop = asyncio.get_running_loop()
    statuses: list[int] = []

    def call(case: Case) -> httpx.Response:
        kwargs = case.as_transport_kwargs(base_url=str(api_a.base_url))
        kwargs["headers"].pop("Authorization", None)  # the client's own token is sent
        request = api_a.request(
            kwargs["method"],
            kwargs["url"],
            params=kwargs.get("params"),
            headers=kwargs.get("headers"),
            json=kwargs.get("json"),
            content=kwargs.get("data"),
        )
        response = asyncio.run_coroutine_threadsafe(request, loop).result()
        statuses.append(response.status_code)
        return response

    await asyncio.to_thread(_check_every_operation, document, call)
    # Not vacuous: every operation was called, and the token opened the API.
    operations = sum(len(methods) for methods in document["paths"].values())
    assert len(statuses) >= operations and 200 in statuses and 401 not in statuses
