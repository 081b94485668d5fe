"""Which tokens the server refuses: forged, expired, logged out, an API token in place of an
access token, a disabled user's, and one from another qruntime server; each gets 401 over both
headers and on the WebSocket upgrade, and no error body echoes the token back."""

from __future__ import annotations

import secrets
import ssl
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from qruntime.status import JobStatus
from qruntime.store import Store
from tests.conftest import LiveServer, create_user, qruntime_command, start_server
from tests.security.conftest import Account, Tenants, error_message, login

DISABLE_WAIT_S = 30.0
"""How long a disabled user's token may go on working (the server remembers callers ~1 s)."""

PROTECTED = [
    ("GET", "/api/users/me"),
    ("GET", "/api/Network"),
    ("GET", "/runtime/programs"),
    ("GET", "/runtime/jobs"),
    ("POST", "/runtime/jobs"),
]
"""Routes that need an access token."""

HEADER_STYLES = ["X-Access-Token", "Authorization: Bearer"]

REFUSED = [
    "forged",
    "expired",
    "logged out",
    "logged out (users/logout)",
    "API token as access token",
    "disabled user",
    "another server",
]


def with_token(style: str, token: str) -> dict[str, str]:
    """The headers that carry ``token`` in ``style``."""
    if style == "X-Access-Token":
        return {"X-Access-Token": token}
    return {"Authorization": f"Bearer {token}"}


def call(tenants: Tenants, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    """One of :data:`PROTECTED`; a POST carries an empty JSON object."""
    body: dict[str, str] | None = {} if method == "POST" else None
    return tenants.client.request(method, path, headers=headers, json=body)


def admin(tenants: Tenants, *args: str) -> str:
    """Run ``qruntime admin ...`` on the server's data dir; the last line it prints."""
    command = [*qruntime_command(), "admin", *args, "--data-dir", str(tenants.data_dir)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout.strip().splitlines()[-1]


def wait_until_refused(tenants: Tenants, token: str) -> None:
    """Wait until the server stops answering for ``token`` (it remembers callers briefly)."""
    deadline = time.monotonic() + DISABLE_WAIT_S
    while tenants.client.get(
        "/api/users/me", headers=with_token("X-Access-Token", token)
    ).is_success:
        assert time.monotonic() < deadline, "the token still works"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def other_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Account]:
    """Alice of another qruntime server, logged in there."""
    data_dir = tmp_path_factory.mktemp("other-server")
    api_token = create_user(data_dir, "alice", "test/premium/main")
    process, url = start_server(data_dir, workers=1)
    server = LiveServer(url, data_dir, api_token, api_token, process, None)
    try:
        verify = ssl.create_default_context(cafile=str(server.certfile))
        with httpx.Client(base_url=url, verify=verify, trust_env=False) as client:
            yield Account("alice", api_token, login(client, api_token), "test/premium/main")
    finally:
        server.stop()


@pytest.fixture(scope="module")
def alice_job(tenants: Tenants) -> str:
    """A completed job of alice's, to stream."""
    return tenants.run_to_end(tenants.alice, "hello-world", params={"iterations": 1})


@pytest.fixture(scope="module")
def disabled_user(tenants: Tenants) -> Account:
    """Dave, logged in, then disabled with ``qruntime admin disable-user``."""
    dave = tenants.account("dave", "test/premium/main")
    assert tenants.client.get("/api/users/me", headers=dave.headers).status_code == 200
    admin(tenants, "disable-user", "dave")
    wait_until_refused(tenants, dave.access_token)
    return dave


def logged_out(tenants: Tenants, path: str) -> str:
    """A fresh access token of alice's, revoked by ``POST path``."""
    token = tenants.login(tenants.alice.api_token)
    headers = with_token("X-Access-Token", token)
    assert tenants.client.get("/api/users/me", headers=headers).status_code == 200
    assert tenants.client.post(path, headers=headers).status_code == 204
    return token


@pytest.fixture(scope="module")
def refused_tokens(
    tenants: Tenants, other_server: Account, disabled_user: Account
) -> dict[str, str]:
    """Each token the server must refuse, by what it is."""
    with Store.open_in(tenants.data_dir) as store:
        alice = store.user_by_name("alice")
        assert alice is not None
        expired = store.create_access_token(alice.id, 0)
    return {
        "forged": secrets.token_hex(32),
        "expired": expired,
        "logged out": logged_out(tenants, "/api/logout"),
        "logged out (users/logout)": logged_out(tenants, "/api/users/logout"),
        "API token as access token": tenants.alice.api_token,
        "disabled user": disabled_user.access_token,
        "another server": other_server.access_token,
    }


@pytest.mark.parametrize("style", HEADER_STYLES)
@pytest.mark.parametrize("kind", REFUSED)
def test_a_refused_token_gets_401(
    tenants: Tenants, refused_tokens: dict[str, str], kind: str, style: str
) -> None:
    token = refused_tokens[kind]
    for method, path in PROTECTED:
        response = call(tenants, method, path, with_token(style, token))
        error_message(response, 401)
        assert token not in response.text
        assert token not in str(response.headers)


@pytest.mark.parametrize("style", HEADER_STYLES)
@pytest.mark.parametrize("kind", REFUSED)
async def test_a_refused_token_cannot_stream(
    tenants: Tenants, refused_tokens: dict[str, str], alice_job: str, kind: str, style: str
) -> None:
    token = refused_tokens[kind]
    refused = await tenants.stream(alice_job, with_token(style, token))
    assert refused.messages == []
    assert refused.code == 4401
    assert token not in (refused.reason or "")


@pytest.mark.parametrize("style", HEADER_STYLES)
async def test_a_live_token_is_accepted_both_ways(
    tenants: Tenants, alice_job: str, style: str
) -> None:
    """The control case: the same requests with alice's own access token succeed."""
    headers = with_token(style, tenants.alice.access_token)
    for method, path in PROTECTED:
        response = call(tenants, method, path, headers)
        assert response.status_code in (200, 400), response.text  # POST {} lacks a program
    streamed = await tenants.stream(alice_job, headers)
    assert streamed.code == 1000
    assert streamed.messages[0] == f"Listening to results for job: {alice_job}"


def test_a_token_made_by_the_store_is_live_until_it_expires(tenants: Tenants) -> None:
    """Tokens made as the expired one is, but with time left, work: the expiry is what counts."""
    with Store.open_in(tenants.data_dir) as store:
        alice = store.user_by_name("alice")
        assert alice is not None
        token = store.create_access_token(alice.id, 3600)
    me = tenants.client.get("/api/users/me", headers=with_token("X-Access-Token", token))
    assert me.status_code == 200
    assert me.json()["username"] == "alice"


def test_no_token_gets_401(tenants: Tenants) -> None:
    for method, path in PROTECTED:
        error_message(call(tenants, method, path, {}), 401)
    for headers in ({"Authorization": "Bearer"}, {"Authorization": "Basic YWxpY2U6eA=="}):
        error_message(tenants.client.get("/api/users/me", headers=headers), 401)


async def test_no_token_cannot_stream(tenants: Tenants, alice_job: str) -> None:
    refused = await tenants.stream(alice_job, {})
    assert (refused.messages, refused.code) == ([], 4401)


def login_status(tenants: Tenants, api_token: str) -> httpx.Response:
    return tenants.client.post("/api/users/loginWithToken", json={"apiToken": api_token})


def test_a_rotated_api_token_cannot_log_in(tenants: Tenants) -> None:
    erin = tenants.account("erin", "test/premium/main")
    new_token = admin(tenants, "rotate-token", "erin")
    assert new_token != erin.api_token
    refused = login_status(tenants, erin.api_token)
    error_message(refused, 401)
    assert erin.api_token not in refused.text
    assert login_status(tenants, new_token).status_code == 200


def test_a_disabled_users_api_token_cannot_log_in(tenants: Tenants, disabled_user: Account) -> None:
    refused = login_status(tenants, disabled_user.api_token)
    error_message(refused, 401)
    assert disabled_user.api_token not in refused.text


def test_another_servers_api_token_cannot_log_in(tenants: Tenants, other_server: Account) -> None:
    refused = login_status(tenants, other_server.api_token)
    error_message(refused, 401)
    assert other_server.api_token not in refused.text
    assert login_status(tenants, tenants.alice.api_token).status_code == 200


def test_the_jobs_of_a_refused_token_stay_untouched(
    tenants: Tenants, refused_tokens: dict[str, str], alice_job: str
) -> None:
    """Cancel and delete with alice's logged-out token do nothing to her job."""
    for kind in ("logged out", "expired"):
        headers = with_token("X-Access-Token", refused_tokens[kind])
        error_message(tenants.client.delete(f"/runtime/jobs/{alice_job}", headers=headers), 401)
        cancel = tenants.client.post(f"/runtime/jobs/{alice_job}/cancel", headers=headers)
        error_message(cancel, 401)
    assert tenants.job_status(tenants.alice, alice_job) is JobStatus.COMPLETED
