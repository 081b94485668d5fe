"""No secret reaches what users see: not the API or access tokens of any user, nor what the
server's environment holds. A program that reports everything it can see of itself (its inputs,
``os.environ``, ``sys.argv``, its own and its parent's ``/proc/PID/environ``) finds none of them,
and neither do its result, log, interim results, stream and error text, nor any error body of a
failed request."""

from __future__ import annotations

from typing import Any

import pytest

from qruntime.status import JobStatus
from tests.security.conftest import Tenants, error_message

SNOOP = """\
import json
import os
import sys


def environ_of(pid):
    try:
        with open(f"/proc/{pid}/environ", "rb") as environ_file:
            return environ_file.read().decode(errors="replace").split("\\0")
    except OSError as exc:
        return ["unreadable: " + str(exc)]


def main(backend, user_messenger, fail=False, **inputs):
    seen = {
        "inputs": inputs,
        "environ": dict(os.environ),
        "argv": sys.argv,
        "proc_environ": environ_of("self"),
        "parent_environ": environ_of(os.getppid()),
    }
    print(json.dumps(seen))
    user_messenger.publish(seen)
    if fail:
        raise RuntimeError(json.dumps(seen))
    return seen
"""
"""Reports its inputs, environment and command line every way a program can."""

INPUTS = {"note": "the only input", "numbers": [1, 2, 3]}


@pytest.fixture(scope="module")
def secrets_of(tenants: Tenants) -> dict[str, str]:
    """Every secret the tests look for, by what it is."""
    found = {
        f"{account.name}'s {kind}": token
        for account in (tenants.alice, tenants.bob, tenants.carol)
        for kind, token in (
            ("API token", account.api_token),
            ("access token", account.access_token),
        )
    }
    found.update(
        {f"server environment {name}": value for name, value in tenants.server_secrets.items()}
    )
    return found


def leaked(text: str, secrets: dict[str, str]) -> list[str]:
    """What of ``secrets`` ``text`` holds, by name (never the values, which would leak them)."""
    return [name for name, value in secrets.items() if value in text]


@pytest.fixture(scope="module")
def snoop(tenants: Tenants) -> str:
    """Alice's program that reports what it sees."""
    return tenants.upload_program(tenants.alice, SNOOP)


@pytest.fixture(scope="module")
def snooped_job(tenants: Tenants, snoop: str) -> str:
    """A completed run of the snoop, with :data:`INPUTS`."""
    return tenants.run_to_end(tenants.alice, snoop, params=INPUTS)


def job_texts(tenants: Tenants, job_id: str) -> dict[str, str]:
    """Everything alice can read of a job, by where it came from."""
    headers = tenants.alice.headers
    texts = {
        part or "job": tenants.client.get(f"/runtime/jobs/{job_id}{part}", headers=headers).text
        for part in ("", "/results", "/interim_results", "/logs", "/metrics")
    }
    texts["job list"] = tenants.client.get("/runtime/jobs", headers=headers).text
    return texts


def test_the_program_sees_only_its_inputs(tenants: Tenants, snooped_job: str) -> None:
    headers = tenants.alice.headers
    seen: dict[str, Any] = tenants.client.get(
        f"/runtime/jobs/{snooped_job}/results", headers=headers
    ).json()
    assert seen["inputs"] == INPUTS
    assert "PATH" in seen["environ"]  # the program did report its environment
    assert seen["argv"]
    assert seen["proc_environ"]
    for name in tenants.server_secrets:
        assert name not in seen["environ"]
        for environ in (seen["proc_environ"], seen["parent_environ"]):
            assert not any(line.startswith(f"{name}=") for line in environ)
    job = tenants.client.get(f"/runtime/jobs/{snooped_job}", headers=headers).json()
    assert job["params"] == INPUTS


def test_no_secret_in_a_jobs_result_log_or_interim_results(
    tenants: Tenants, snooped_job: str, secrets_of: dict[str, str]
) -> None:
    texts = job_texts(tenants, snooped_job)
    assert "the only input" in texts["/results"]
    assert "the only input" in texts["/logs"]
    assert "the only input" in texts["/interim_results"]
    for where, text in texts.items():
        assert leaked(text, secrets_of) == [], where


async def test_no_secret_in_a_jobs_stream(
    tenants: Tenants, snooped_job: str, secrets_of: dict[str, str]
) -> None:
    streamed = await tenants.stream(snooped_job, tenants.alice.headers)
    assert streamed.code == 1000
    assert len(streamed.messages) == 3
    assert leaked("\n".join(streamed.messages), secrets_of) == []


def test_no_secret_in_a_failed_jobs_error(
    tenants: Tenants, snoop: str, secrets_of: dict[str, str]
) -> None:
    alice = tenants.alice
    job_id = tenants.run(alice, snoop, params={**INPUTS, "fail": True})
    tenants.wait_for_status(alice, job_id, JobStatus.FAILED)
    texts = job_texts(tenants, job_id)
    assert "RuntimeError" in texts["/results"]
    for where, text in texts.items():
        assert leaked(text, secrets_of) == [], where


def failed_requests(tenants: Tenants) -> dict[str, Any]:
    """Requests that fail, each carrying one of alice's tokens somewhere the server reads."""
    client, alice = tenants.client, tenants.alice
    login = "/api/users/loginWithToken"
    return {
        "login, unknown API token": client.post(login, json={"apiToken": alice.api_token + "0"}),
        "login, API token not as JSON": client.post(login, content=f"apiToken={alice.api_token}"),
        "login, API token in the wrong field": client.post(login, json={"token": alice.api_token}),
        "login, API token in a list": client.post(login, json={"apiToken": [alice.api_token]}),
        "unknown access token": client.get(
            "/api/users/me", headers={"X-Access-Token": alice.access_token + "0"}
        ),
        "unknown bearer token": client.get(
            "/runtime/jobs", headers={"Authorization": f"Bearer {alice.access_token}0"}
        ),
        "job of an unknown program": tenants.submit(alice, "no-such-program"),
        "job with bad inputs": client.post(
            "/runtime/jobs",
            content='{"program_id": "hello-world", "params": 3}',
            headers=alice.headers,
        ),
        "job list with a bad query": client.get(
            "/runtime/jobs", params={"limit": "many"}, headers=alice.headers
        ),
        "program of nobody": client.get("/runtime/programs/nobodys", headers=alice.headers),
        "instance of nobody": client.get(
            "/api/Network/a/Groups/b/Projects/c/devices/v/1", headers=alice.headers
        ),
    }


def test_no_error_body_echoes_a_token(tenants: Tenants, secrets_of: dict[str, str]) -> None:
    near_misses = {
        "alice's API token, one character longer": tenants.alice.api_token + "0",
        "alice's access token, one character longer": tenants.alice.access_token + "0",
    }
    for what, response in failed_requests(tenants).items():
        assert 400 <= response.status_code < 500, (what, response.status_code)
        error_message(response, response.status_code)
        assert leaked(response.text, secrets_of | near_misses) == [], what
        assert leaked(str(response.headers), secrets_of | near_misses) == [], what


def test_no_secret_in_what_the_server_answers(tenants: Tenants, secrets_of: dict[str, str]) -> None:
    """Logging in answers a new access token, never the API token; nothing else holds one."""
    alice = tenants.alice
    login = tenants.client.post("/api/users/loginWithToken", json={"apiToken": alice.api_token})
    assert login.status_code == 200
    assert leaked(login.text, secrets_of) == []
    new_access_token = login.json()["id"]
    for path in (
        "/api/version",
        "/api/users/me",
        "/api/Network",
        "/runtime/programs",
        "/openapi.json",
    ):
        response = tenants.client.get(path, headers=alice.headers)
        assert response.status_code == 200, (path, response.text)
        assert leaked(response.text, secrets_of | {"new access token": new_access_token}) == []


def test_no_secret_in_the_server_log(
    tenants: Tenants, snooped_job: str, secrets_of: dict[str, str]
) -> None:
    """Not even the operator's log holds the users' tokens or the server's secrets."""
    failed_requests(tenants)
    log = (tenants.data_dir / "serve.log").read_text()
    assert leaked(log, secrets_of) == []
