"""A server of many tenants for each test module, and the requests the tests make of it.

The users of every server:

- alice: premium, in ``test/premium/main`` and ``ibm-q/open/main``;
- bob: premium, in ``other/premium/main`` only;
- carol: open plan, in ``ibm-q/open/main`` only.

Each test module starts a server of its own (``--port 0``, its own data dir), so the modules run
apart under xdist. The server's environment holds secrets (:data:`SERVER_SECRET_NAMES`) that
nothing a user sees may contain.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from qruntime.status import JobStatus
from qruntime.store import Job, Store
from tests.conftest import LiveServer, create_user, start_server

HERE = Path(__file__).parent

ALICE_INSTANCES = ("test/premium/main", "ibm-q/open/main")
BOB_INSTANCE = "other/premium/main"
OPEN_INSTANCE = "ibm-q/open/main"
SIMULATOR = "ibmq_qasm_simulator"
DEVICE_EMULATOR = "ibmq_bogota"

SERVER_SECRET_NAMES = ("QRUNTIME_TEST_SECRET", "AWS_SECRET_ACCESS_KEY")
"""Variables put in the server's environment, each with a random value of its own."""

WAIT_S = 180.0
"""The longest wait for a job to reach a status, or for a stream to close."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "security: the multi-tenant acceptance suite against a live server"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.security)


@dataclass(frozen=True)
class Account:
    """A user of the server: their API token and an access token from ``loginWithToken``."""

    name: str
    api_token: str
    access_token: str
    instance: str
    """The hub/group/project the user's jobs go to in these tests."""

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Access-Token": self.access_token}


@dataclass(frozen=True)
class StreamEnd:
    """What a job's WebSocket stream sent before the server closed it, and how it closed."""

    messages: list[str]
    code: int | None
    reason: str | None


@dataclass
class Tenants:
    """One running server, its users, and an HTTPS client that trusts its certificate."""

    server: LiveServer
    client: httpx.Client
    alice: Account
    bob: Account
    carol: Account
    server_secrets: dict[str, str] = field(default_factory=dict)
    """The secret values in the server's environment, by variable name."""

    @property
    def data_dir(self) -> Path:
        return self.server.data_dir

    def stored_jobs(self) -> dict[str, Job]:
        """Every job in the server's store, by id."""
        with Store.open_in(self.data_dir) as store:
            jobs, _ = store.list_jobs(limit=10_000)
            return {job.id: job for job in jobs}

    def stored_program_ids(self) -> set[str]:
        """The id of every program in the server's store, built-ins included."""
        with Store.open_in(self.data_dir) as store:
            programs, _ = store.list_programs(None, limit=10_000)
            return {program.id for program in programs}

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.server.certfile))

    def login(self, api_token: str) -> str:
        """A new access token for the API token."""
        return login(self.client, api_token)

    def account(self, name: str, instance: str) -> Account:
        """Create a user on the running server (as ``qruntime admin create-user``) and log in."""
        api_token = create_user(self.data_dir, name, instance)
        return Account(name, api_token, self.login(api_token), instance)

    def upload(self, account: Account, source: str, *, is_public: bool = False) -> httpx.Response:
        """``POST /runtime/programs`` with a fresh name."""
        body: dict[str, Any] = {
            "name": f"program-{secrets.token_hex(4)}",
            "data": base64.b64encode(source.encode()).decode(),
            "cost": 600,
            "description": "A program of the security tests.",
            "is_public": is_public,
        }
        return self.client.post("/runtime/programs", json=body, headers=account.headers)

    def upload_program(self, account: Account, source: str, *, is_public: bool = False) -> str:
        """Upload a program; its id."""
        response = self.upload(account, source, is_public=is_public)
        assert response.status_code == 201, response.text
        program_id = response.json()["id"]
        assert isinstance(program_id, str)
        return program_id

    def submit(
        self,
        account: Account,
        program_id: str,
        *,
        backend: str = SIMULATOR,
        params: dict[str, Any] | None = None,
        instance: str | None = None,
    ) -> httpx.Response:
        """``POST /runtime/jobs`` in the account's instance (or ``instance``)."""
        hub, group, project = (instance or account.instance).split("/")
        body = {
            "program_id": program_id,
            "backend": backend,
            "hub": hub,
            "group": group,
            "project": project,
            "params": params or {},
        }
        return self.client.post("/runtime/jobs", json=body, headers=account.headers)

    def run(self, account: Account, program_id: str, **kwargs: Any) -> str:
        """Submit a job; its id."""
        response = self.submit(account, program_id, **kwargs)
        assert response.status_code == 200, response.text
        job_id = response.json()["id"]
        assert isinstance(job_id, str)
        return job_id

    def job_status(self, account: Account, job_id: str) -> JobStatus:
        response = self.client.get(f"/runtime/jobs/{job_id}", headers=account.headers)
        assert response.status_code == 200, response.text
        return JobStatus(response.json()["state"]["status"].upper())

    def wait_for_status(
        self, account: Account, job_id: str, *wanted: JobStatus, timeout: float = WAIT_S
    ) -> JobStatus:
        """Poll the job until its status is one of ``wanted``; fail on another final one."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.job_status(account, job_id)
            if status in wanted:
                return status
            if status.is_terminal():
                why = self.client.get(f"/runtime/jobs/{job_id}/results", headers=account.headers)
                raise AssertionError(f"job {job_id} ended {status}, not {wanted}: {why.text}")
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} is still {status} after {timeout} s")
            time.sleep(0.05)

    def run_to_end(self, account: Account, program_id: str, **kwargs: Any) -> str:
        """Submit a job and wait until it completed; its id."""
        job_id = self.run(account, program_id, **kwargs)
        self.wait_for_status(account, job_id, JobStatus.COMPLETED)
        return job_id

    async def stream(self, job_id: str, headers: dict[str, str]) -> StreamEnd:
        """Everything ``wss://.../runtime/stream/jobs/{job_id}`` sends until the server closes."""
        url = self.server.url.replace("https://", "wss://") + f"/runtime/stream/jobs/{job_id}"
        messages: list[str] = []
        async with asyncio.timeout(WAIT_S):
            async with connect(
                url, ssl=self.ssl_context(), additional_headers=headers, proxy=None
            ) as websocket:
                try:
                    async for message in websocket:
                        messages.append(str(message))
                except ConnectionClosed:
                    pass  # a close code other than 1000 or 1001: the caller looks at it
                return StreamEnd(messages, websocket.close_code, websocket.close_reason)


def login(client: httpx.Client, api_token: str) -> str:
    """``POST /api/users/loginWithToken``: a new access token for the API token."""
    response = client.post("/api/users/loginWithToken", json={"apiToken": api_token})
    assert response.status_code == 200, response.text
    token = response.json()["id"]
    assert isinstance(token, str)
    return token


def error_message(response: httpx.Response, status: int) -> str:
    """The message of an error in IBM's shape, after checking its status code."""
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert body["error"]["code"] == status, body
    message = body["error"]["message"]
    assert isinstance(message, str)
    return message


@pytest.fixture(scope="module")
def tenants(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenants]:
    """A server of this test module's own, with alice, bob and carol logged in."""
    data_dir = tmp_path_factory.mktemp("tenants")
    tokens = {
        "alice": create_user(data_dir, "alice", *ALICE_INSTANCES),
        "bob": create_user(data_dir, "bob", BOB_INSTANCE),
        "carol": create_user(data_dir, "carol", OPEN_INSTANCE, plan="open"),
    }
    server_secrets = {name: secrets.token_hex(24) for name in SERVER_SECRET_NAMES}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in server_secrets.items():
            patch.setenv(name, value)
        process, url = start_server(data_dir, workers=1)
    server = LiveServer(url, data_dir, tokens["alice"], tokens["carol"], process, None)
    verify = ssl.create_default_context(cafile=str(server.certfile))
    try:
        with httpx.Client(base_url=url, verify=verify, trust_env=False, timeout=60) as client:
            instances = {"alice": ALICE_INSTANCES[0], "bob": BOB_INSTANCE, "carol": OPEN_INSTANCE}
            alice, bob, carol = (
                Account(name, token, login(client, token), instances[name])
                for name, token in tokens.items()
            )
            yield Tenants(server, client, alice, bob, carol, server_secrets)
    finally:
        server.stop()
