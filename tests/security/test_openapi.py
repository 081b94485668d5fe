"""The server's OpenAPI document, and schemathesis' generated requests against it: whatever a
logged-in user sends, valid or not, no answer is a 5xx.

The document describes every HTTP route and its path and query parameters, but not the request
bodies: the routes read the raw body as JSON (IBM's clients send it with no Content-Type), so
FastAPI cannot see their shape. The bodies the clients send are described here instead, so that
schemathesis generates them too.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable

from tests.security.conftest import Tenants, error_message

OPERATIONS = [
    "GET /health",
    "GET /api/version",
    "POST /api/users/loginWithToken",
    "GET /api/users/me",
    "POST /api/logout",
    "GET /api/Network",
    "GET /api/Network/{hub}/Groups/{group}/Projects/{project}/devices/v/1",
    "GET /api/Network/{hub}/Groups/{group}/Projects/{project}/devices/{backend}/queue/status",
    "GET /api/Network/{hub}/Groups/{group}/Projects/{project}/devices/{backend}/properties",
    "GET /api/Network/{hub}/Groups/{group}/Projects/{project}/devices/{backend}/defaults",
    "GET /runtime/programs",
    "POST /runtime/programs",
    "GET /runtime/programs/{program_id}",
    "PATCH /runtime/programs/{program_id}",
    "DELETE /runtime/programs/{program_id}",
    "PUT /runtime/programs/{program_id}/data",
    "PUT /runtime/programs/{program_id}/public",
    "PUT /runtime/programs/{program_id}/private",
    "POST /runtime/jobs",
    "GET /runtime/jobs",
    "GET /runtime/jobs/{job_id}",
    "DELETE /runtime/jobs/{job_id}",
    "GET /runtime/jobs/{job_id}/results",
    "GET /runtime/jobs/{job_id}/interim_results",
    "GET /runtime/jobs/{job_id}/logs",
    "GET /runtime/jobs/{job_id}/metrics",
    "POST /runtime/jobs/{job_id}/cancel",
    "DELETE /runtime/sessions/{session_id}/close",
    "POST /runtime/logout",
]
"""Every HTTP operation of the service (the WebSocket stream is outside OpenAPI)."""

NOT_FUZZED = {"POST /api/logout": "it revokes the access token that every other request uses"}

TEXT = {"type": "string"}
BODIES: dict[str, dict[str, Any]] = {
    "POST /api/users/loginWithToken": {
        "properties": {"apiToken": TEXT},
        "required": ["apiToken"],
    },
    "POST /runtime/programs": {
        "properties": {
            "name": TEXT,
            "data": TEXT,
            "cost": {"type": "integer"},
            "description": TEXT,
            "is_public": {"type": "boolean"},
            "spec": {"type": "object"},
        },
        "required": ["name", "data"],
    },
    "PATCH /runtime/programs/{program_id}": {
        "properties": {
            "name": TEXT,
            "description": TEXT,
            "cost": {"type": "integer"},
            "spec": {"type": "object"},
        },
    },
    "POST /runtime/jobs": {
        "properties": {
            "program_id": TEXT,
            "backend": TEXT,
            "hub": TEXT,
            "group": TEXT,
            "project": TEXT,
            "params": {"type": "object"},
            "log_level": TEXT,
            "tags": {"type": "array", "items": TEXT},
            "session_id": TEXT,
            "start_session": {"type": "boolean"},
            "cost": {"type": "integer"},
        },
        "required": ["program_id"],
    },
}
"""The JSON bodies IBM's clients send, where the served document has none."""

EXAMPLES_PER_MODE = 40
"""Generated requests per operation, for valid and for invalid data each (a bound on time)."""

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES_PER_MODE,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
)


def labels(document: dict[str, Any]) -> list[str]:
    return [
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method in operations
    ]


@pytest.fixture(scope="module")
def document(tenants: Tenants) -> dict[str, Any]:
    response = tenants.client.get("/openapi.json")
    assert response.status_code == 200, response.text
    served: dict[str, Any] = response.json()
    return served


@pytest.fixture(scope="module")
def api_schema(document: dict[str, Any]) -> schemathesis.BaseSchema:
    """The served document, with :data:`BODIES` where it describes none."""
    completed = copy.deepcopy(document)
    for label, body in BODIES.items():
        method, path = label.split(" ", 1)
        operation = completed["paths"][path][method.lower()]
        operation.setdefault(
            "requestBody",
            {
                "required": True,
                "content": {"application/json": {"schema": {"type": "object", **body}}},
            },
        )
    config = schemathesis.Config.from_dict({"cache": {"enabled": False}})
    return schemathesis.openapi.from_dict(completed, config=config)


@pytest.fixture(scope="module")
def alice_session(tenants: Tenants) -> Iterator[requests.Session]:
    """A requests session (schemathesis' transport) logged in as alice."""
    with requests.Session() as session:
        session.trust_env = False
        session.verify = str(tenants.server.certfile)
        session.headers.update(tenants.alice.headers)
        yield session


def test_the_openapi_document_describes_every_route(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.")
    assert sorted(labels(document)) == sorted(OPERATIONS)
    for path, operations in document["paths"].items():
        for operation in operations.values():
            described = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert described == {part[1:-1] for part in path.split("/") if part.startswith("{")}
    jobs = document["paths"]["/runtime/jobs"]["get"]
    queries = {parameter["name"] for parameter in jobs["parameters"]}
    assert {"limit", "offset", "pending", "program", "backend", "tags"} <= queries


@pytest.mark.parametrize("label", [label for label in OPERATIONS if label not in NOT_FUZZED])
def test_no_request_makes_a_server_error(
    tenants: Tenants,
    api_schema: schemathesis.BaseSchema,
    alice_session: requests.Session,
    label: str,
) -> None:
    method, path = label.split(" ", 1)
    operation = api_schema[path][method]
    url, verify = tenants.server.url, str(tenants.server.certfile)

    for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):

        @given(case=operation.as_strategy(generation_mode=mode))
        @FUZZ_SETTINGS
        def no_server_error(case: schemathesis.Case[Any]) -> None:
            response = case.call(base_url=url, session=alice_session, verify=verify, timeout=60)
            assert response.status_code < 500, (
                f"{case.as_curl_command()} answered {response.status_code}: {response.text}"
            )

        try:
            no_server_error()
        except Unsatisfiable:
            continue  # no invalid request to make: every value of its parameters is valid


@pytest.mark.parametrize(
    "query",
    [
        {"offset": str(2**63)},
        {"offset": "1" * 40, "limit": "1" * 40},
        {"created_after": "0001-01-01T00:00:00+23:59"},
        {"created_before": "9999-12-31T23:59:59-23:59"},
    ],
)
def test_an_out_of_range_job_query_is_400(tenants: Tenants, query: dict[str, str]) -> None:
    response = tenants.client.get("/runtime/jobs", params=query, headers=tenants.alice.headers)
    message = error_message(response, 400)
    assert any(name in message for name in query)


def test_an_out_of_range_program_offset_is_400(tenants: Tenants) -> None:
    response = tenants.client.get(
        "/runtime/programs", params={"offset": str(2**63)}, headers=tenants.alice.headers
    )
    assert "offset" in error_message(response, 400)
