"""The application shell: IBM-shaped errors, JSON without Content-Type, body limit, health."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Request

from qruntime.errors import InputError, ProgramNotFoundError
from qruntime.server.app import create_app
from qruntime.server.body import json_body


def make_app(problems: list[str] | None = None) -> Any:
    router = APIRouter()

    @router.post("/echo")
    async def echo(request: Request) -> Any:
        return await json_body(request)

    @router.get("/missing")
    def missing() -> None:
        raise ProgramNotFoundError("no program 'x'")

    @router.get("/bad")
    def bad() -> None:
        raise InputError("shots must be positive", field="shots")

    @router.get("/crash")
    def crash() -> None:
        raise RuntimeError("boom")

    state = problems if problems is not None else []
    return create_app(
        health_checks=[lambda: "; ".join(state) or None], max_body_bytes=1000, routers=[router]
    )


@pytest.fixture
def client() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_json_body_without_content_type(client: httpx.AsyncClient) -> None:
    response = await client.post("/echo", content=b'{"program_id": "hello-world"}')
    assert response.status_code == 200
    assert response.json() == {"program_id": "hello-world"}


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/missing", 404, "no program 'x'"),
        ("/bad", 400, "shots must be positive"),
        ("/nowhere", 404, "Not Found"),
        ("/crash", 500, "Internal server error"),
    ],
)
async def test_errors_have_ibms_shape(
    client: httpx.AsyncClient, path: str, status: int, words: str
) -> None:
    response = await client.get(path)
    assert response.status_code == status
    body = response.json()
    assert body["error"]["code"] == status
    assert words in body["error"]["message"]


async def test_a_body_that_is_not_json_is_a_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/echo", content=b"{not json")
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]["message"]


async def test_a_declared_oversized_body_is_a_413(client: httpx.AsyncClient) -> None:
    response = await client.post("/echo", content=b"1" * 2000)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == 413


async def test_a_streamed_oversized_body_is_a_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> Any:
        for _ in range(5):
            yield b"1" * 400

    response = await client.post("/echo", content=chunks())
    assert response.status_code == 413


async def test_health_says_what_is_not_ready() -> None:
    problems = ["workers are starting"]
    transport = httpx.ASGITransport(app=make_app(problems))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/health")
        assert response.status_code == 503
        assert "workers are starting" in response.json()["error"]["message"]
        problems.clear()
        response = await client.get("/health")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
