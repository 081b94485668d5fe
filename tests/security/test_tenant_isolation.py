"""One user reaches nothing of another's: jobs (and their results, logs, interim results and
stream), the job list, and private programs. What a user may not see answers 404, exactly as
if it did not exist, and stays intact for its owner."""

from __future__ import annotations

import secrets

import pytest

from qruntime.status import JobStatus
from tests.security.conftest import OPEN_INSTANCE, Account, Tenants, error_message

MARKED = """\
import time


def main(backend, user_messenger, marker="", seconds=0):
    print(f"log line {marker}")
    user_messenger.publish({"interim": marker})
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)
    return {"result": marker}
"""
"""Prints, publishes and returns its ``marker``; runs ``seconds`` long."""

JOB_PARTS = ["", "/results", "/interim_results", "/logs", "/metrics"]


@pytest.fixture(scope="module")
def marker() -> str:
    return f"marker-{secrets.token_hex(8)}"


@pytest.fixture(scope="module")
def private_program(tenants: Tenants) -> str:
    """Alice's private program."""
    return tenants.upload_program(tenants.alice, MARKED)


@pytest.fixture(scope="module")
def alice_job(tenants: Tenants, private_program: str, marker: str) -> str:
    """A completed job of alice's, with a result, a log and an interim result."""
    return tenants.run_to_end(tenants.alice, private_program, params={"marker": marker})


@pytest.fixture(scope="module")
def bob_job(tenants: Tenants) -> str:
    """A completed job of bob's own, so that his job list is not empty."""
    return tenants.run_to_end(tenants.bob, "hello-world", params={"iterations": 1})


def not_found_alike(message: str, item_id: str, missing: str, missing_id: str) -> bool:
    """Whether a 404 says the same as the one for an id that does not exist."""
    return message.replace(item_id, "<id>") == missing.replace(missing_id, "<id>")


def missing_job_message(tenants: Tenants, account: Account) -> tuple[str, str]:
    missing_id = secrets.token_hex(10)
    response = tenants.client.get(f"/runtime/jobs/{missing_id}", headers=account.headers)
    return error_message(response, 404), missing_id


@pytest.mark.parametrize("part", JOB_PARTS)
def test_another_user_cannot_read_a_job(
    tenants: Tenants, alice_job: str, marker: str, part: str
) -> None:
    missing, missing_id = missing_job_message(tenants, tenants.bob)
    refused = tenants.client.get(f"/runtime/jobs/{alice_job}{part}", headers=tenants.bob.headers)
    assert not_found_alike(error_message(refused, 404), alice_job, missing, missing_id)
    assert marker not in refused.text
    owned = tenants.client.get(f"/runtime/jobs/{alice_job}{part}", headers=tenants.alice.headers)
    assert owned.status_code == 200, owned.text
    if part in ("/results", "/interim_results", "/logs"):
        assert marker in owned.text


def test_another_users_job_list_leaves_the_job_out(
    tenants: Tenants, alice_job: str, bob_job: str, private_program: str
) -> None:
    bob = tenants.bob
    listed = tenants.client.get("/runtime/jobs", params={"limit": 200}, headers=bob.headers)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    stored = tenants.stored_jobs()
    bobs = {job_id for job_id, job in stored.items() if job.owner_id == stored[bob_job].owner_id}
    assert {job["id"] for job in body["jobs"]} == bobs
    assert body["count"] == len(bobs) < len(stored)
    assert alice_job not in bobs
    by_program = tenants.client.get(
        "/runtime/jobs", params={"program": private_program}, headers=bob.headers
    )
    assert by_program.json() == {"jobs": [], "count": 0}
    in_alices_instance = tenants.client.get(
        "/runtime/jobs", params={"provider": tenants.alice.instance}, headers=bob.headers
    )
    assert alice_job not in in_alices_instance.text
    error_message(in_alices_instance, 403)
    alices = tenants.client.get("/runtime/jobs", headers=tenants.alice.headers).json()
    assert alice_job in [job["id"] for job in alices["jobs"]]
    assert bob_job not in [job["id"] for job in alices["jobs"]]


async def test_another_user_cannot_stream_a_job(
    tenants: Tenants, alice_job: str, marker: str
) -> None:
    refused = await tenants.stream(alice_job, tenants.bob.headers)
    assert refused.messages == []
    assert refused.code == 4404
    assert marker not in (refused.reason or "")
    owned = await tenants.stream(alice_job, tenants.alice.headers)
    assert owned.code == 1000
    assert len(owned.messages) == 3  # the acknowledgement, the interim result, the result
    assert marker in owned.messages[1]
    assert marker in owned.messages[2]


async def test_another_user_cannot_cancel_delete_or_stream_a_running_job(
    tenants: Tenants, private_program: str, marker: str
) -> None:
    alice, bob = tenants.alice, tenants.bob
    job_id = tenants.run(alice, private_program, params={"marker": marker, "seconds": 600})
    tenants.wait_for_status(alice, job_id, JobStatus.RUNNING)
    try:
        cancel = tenants.client.post(f"/runtime/jobs/{job_id}/cancel", headers=bob.headers)
        error_message(cancel, 404)
        delete = tenants.client.delete(f"/runtime/jobs/{job_id}", headers=bob.headers)
        error_message(delete, 404)
        assert (await tenants.stream(job_id, bob.headers)).code == 4404
        assert tenants.job_status(alice, job_id) is JobStatus.RUNNING
    finally:
        cancelled = tenants.client.post(f"/runtime/jobs/{job_id}/cancel", headers=alice.headers)
        assert cancelled.status_code == 204, cancelled.text
    tenants.wait_for_status(alice, job_id, JobStatus.CANCELLED)


def test_another_user_cannot_cancel_or_delete_a_finished_job(
    tenants: Tenants, alice_job: str, marker: str
) -> None:
    bob = tenants.bob
    error_message(
        tenants.client.post(f"/runtime/jobs/{alice_job}/cancel", headers=bob.headers), 404
    )
    error_message(tenants.client.delete(f"/runtime/jobs/{alice_job}", headers=bob.headers), 404)
    assert tenants.job_status(tenants.alice, alice_job) is JobStatus.COMPLETED
    result = tenants.client.get(f"/runtime/jobs/{alice_job}/results", headers=tenants.alice.headers)
    assert result.json() == {"result": marker}


async def test_users_of_one_instance_see_only_their_own_jobs(
    tenants: Tenants, private_program: str, marker: str
) -> None:
    """Every open-plan user shares ibm-q/open/main: membership alone must show nothing."""
    alice, carol = tenants.alice, tenants.carol
    job_id = tenants.run_to_end(
        alice, private_program, params={"marker": marker}, instance=OPEN_INSTANCE
    )
    for part in JOB_PARTS:
        response = tenants.client.get(f"/runtime/jobs/{job_id}{part}", headers=carol.headers)
        error_message(response, 404)
    listed = tenants.client.get(
        "/runtime/jobs", params={"provider": OPEN_INSTANCE}, headers=carol.headers
    )
    assert listed.json() == {"jobs": [], "count": 0}
    assert (await tenants.stream(job_id, carol.headers)).code == 4404
    error_message(tenants.client.delete(f"/runtime/jobs/{job_id}", headers=carol.headers), 404)
    assert tenants.job_status(alice, job_id) is JobStatus.COMPLETED


def program_refusals(tenants: Tenants, program_id: str, account: Account) -> dict[str, int]:
    """The status of each thing ``account`` tries on the program."""
    client, headers = tenants.client, account.headers
    path = f"/runtime/programs/{program_id}"
    source = "ZGVmIG1haW4oYmFja2VuZCwgdXNlcl9tZXNzZW5nZXIpOgogICAgcmV0dXJuIDEK"
    answers = {
        "get": client.get(path, headers=headers),
        "run": tenants.submit(account, program_id),
        "update": client.patch(path, json={"description": "mine now"}, headers=headers),
        "update data": client.put(f"{path}/data", content=source, headers=headers),
        "make public": client.put(f"{path}/public", headers=headers),
        "make private": client.put(f"{path}/private", headers=headers),
        "delete": client.delete(path, headers=headers),
    }
    return {what: response.status_code for what, response in answers.items()}


def test_a_private_program_is_hidden_from_other_users(
    tenants: Tenants, private_program: str
) -> None:
    bob = tenants.bob
    assert set(program_refusals(tenants, private_program, bob).values()) == {404}
    missing_id = f"program-{secrets.token_hex(5)}"
    missing = error_message(
        tenants.client.get(f"/runtime/programs/{missing_id}", headers=bob.headers), 404
    )
    message = error_message(
        tenants.client.get(f"/runtime/programs/{private_program}", headers=bob.headers), 404
    )
    assert not_found_alike(message, private_program, missing, missing_id)
    listed = tenants.client.get("/runtime/programs", headers=bob.headers).json()
    assert private_program not in [program["id"] for program in listed["programs"]]
    assert "hello-world" in [program["id"] for program in listed["programs"]]
    own = tenants.client.get(f"/runtime/programs/{private_program}", headers=tenants.alice.headers)
    assert own.status_code == 200, own.text
    assert own.json()["data"] == MARKED
    assert own.json()["is_public"] is False
    assert own.json()["description"] == "A program of the security tests."


def test_a_public_program_is_visible_but_not_changeable(tenants: Tenants, marker: str) -> None:
    alice, bob = tenants.alice, tenants.bob
    program_id = tenants.upload_program(alice, MARKED, is_public=True)
    seen = tenants.client.get(f"/runtime/programs/{program_id}", headers=bob.headers)
    assert seen.status_code == 200, seen.text
    assert seen.json()["data"] == ""  # its source stays its author's
    listed = tenants.client.get("/runtime/programs", headers=bob.headers).json()
    assert program_id in [program["id"] for program in listed["programs"]]
    job_id = tenants.run_to_end(bob, program_id, params={"marker": marker})
    assert tenants.client.get(f"/runtime/jobs/{job_id}/results", headers=bob.headers).json() == {
        "result": marker
    }
    refusals = program_refusals(tenants, program_id, bob)
    assert refusals == {
        "get": 200,
        "run": 200,
        "update": 403,
        "update data": 403,
        "make public": 403,
        "make private": 403,
        "delete": 403,
    }
    own = tenants.client.get(f"/runtime/programs/{program_id}", headers=alice.headers).json()
    assert (own["data"], own["is_public"]) == (MARKED, True)
