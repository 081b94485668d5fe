"""The service as a whole, through a real `qruntime serve` process over HTTPS.

Scheduling (fair share, one job at a time on a device emulator), cancelling, a worker that dies,
and a server killed with SIGKILL and started again: every job is accounted for.
"""

from __future__ import annotations

import datetime
import itertools
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from qruntime import RuntimeProvider
from qruntime.client import RuntimeJob
from qruntime.status import JobStatus
from qruntime.store import Store
from qruntime.store.records import Job
from tests.conftest import LiveServer, create_user, start_server

SLEEPER = """\
import json
import time


def main(backend, user_messenger, seconds=1.0, crash=None):
    if crash == "exit":
        import os
        os._exit(3)
    if crash == "signal":
        import os, signal
        os.kill(os.getpid(), signal.SIGKILL)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.02)
    return {"slept": seconds}
"""
METADATA = {"name": "sleeper", "max_execution_time": 600, "description": "Sleeps."}
SIMULATOR = {"backend_name": "ibmq_qasm_simulator"}
WAIT = 300


def wait_for(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def store_url(server: LiveServer) -> str:
    return server.database_url or f"sqlite:///{server.data_dir / 'qruntime.db'}"


def stored_jobs(database_url: str) -> dict[str, Job]:
    with Store.open(database_url) as store:
        jobs, _ = store.list_jobs(limit=1000)
        return {job.id: job for job in jobs}


def connect(server: LiveServer, token: str | None = None) -> RuntimeProvider:
    return RuntimeProvider(url=server.url, token=token or server.token, verify=server.certfile)


def upload_sleeper(provider: RuntimeProvider) -> str:
    metadata = dict(METADATA, name=f"sleeper-{uuid.uuid4().hex[:6]}")
    return provider.runtime.upload_program(data=SLEEPER, metadata=metadata)


@pytest.fixture(scope="module")
def sleeper(live_server: LiveServer) -> str:
    with connect(live_server) as provider:
        return upload_sleeper(provider)


def run(
    provider: RuntimeProvider, program: str, backend: dict[str, str], **inputs: object
) -> RuntimeJob:
    return provider.runtime.run(program, inputs=inputs, options=backend)


def test_a_worker_that_dies_fails_its_job_and_is_replaced(
    live_server: LiveServer, sleeper: str
) -> None:
    with connect(live_server) as provider:
        for crash, words in (("exit", "exited with code 3"), ("signal", "signal 9")):
            job = run(provider, sleeper, SIMULATOR, crash=crash)
            job.wait_for_final_state(timeout=WAIT)
            assert job.status().name == "ERROR"
            assert words in job.error_message()
        # The server and a fresh worker carry on.
        assert (
            run(provider, "hello-world", SIMULATOR, iterations=1).result(timeout=WAIT)
            == "All done!"
        )


def test_cancel_a_queued_and_a_running_job(live_server: LiveServer, sleeper: str) -> None:
    with connect(live_server) as provider:
        blockers = [run(provider, sleeper, SIMULATOR, seconds=30) for _ in range(2)]
        queued = run(provider, sleeper, SIMULATOR, seconds=30)
        wait_for(lambda: all(b.status().name == "RUNNING" for b in blockers), "both workers busy")
        assert queued.status().name == "QUEUED"
        queued.cancel()
        for blocker in blockers:
            blocker.cancel()
        ids = [job.job_id() for job in (queued, *blockers)]
        # The client marks a cancelled job CANCELLED at once; the server stores it when the
        # worker has stopped.
        wait_for(
            lambda: all(stored_jobs(store_url(live_server))[i].status.is_terminal() for i in ids),
            "the cancelled jobs to be stored as finished",
        )
        stored = stored_jobs(store_url(live_server))
        assert stored[queued.job_id()].status is JobStatus.CANCELLED
        assert stored[queued.job_id()].started is None
        for blocker in blockers:
            assert stored[blocker.job_id()].status is JobStatus.CANCELLED
            assert stored[blocker.job_id()].started is not None
        assert run(provider, sleeper, SIMULATOR, seconds=0).result(timeout=WAIT) == {"slept": 0}


def test_a_device_emulator_runs_one_job_at_a_time(live_server: LiveServer, sleeper: str) -> None:
    with connect(live_server) as provider:
        device = [
            run(provider, sleeper, {"backend_name": "ibmq_bogota"}, seconds=1.5) for _ in range(2)
        ]
        for job in device:
            job.result(timeout=WAIT)
        simulator = [run(provider, sleeper, SIMULATOR, seconds=1.5) for _ in range(2)]
        for job in simulator:
            job.result(timeout=WAIT)
    stored = stored_jobs(store_url(live_server))
    first, second = sorted(
        (stored[j.job_id()] for j in device), key=lambda j: j.started or j.created
    )
    assert first.finished is not None
    assert second.started is not None
    assert second.started >= first.finished, "two jobs held ibmq_bogota at once"
    a, b = (stored[j.job_id()] for j in simulator)
    assert a.started is not None
    assert b.started is not None
    assert a.finished is not None
    assert b.finished is not None
    assert max(a.started, b.started) < min(a.finished, b.finished), "simulator jobs did not overlap"


def test_fair_share_lets_another_instance_in(tmp_path: Path) -> None:
    flooder_token = create_user(tmp_path, "flooder", "flood/group/main")
    other_token = create_user(tmp_path, "other", "other/group/main")
    process, url = start_server(tmp_path, workers=2)
    server = LiveServer(url, tmp_path, flooder_token, other_token, process, None)
    try:
        with connect(server) as flooder, connect(server, other_token) as other:
            program = upload_sleeper(flooder)
            flooder.runtime.set_program_visibility(program, True)
            flood = [run(flooder, program, SIMULATOR, seconds=1.0) for _ in range(8)]
            wait_for(lambda: flood[0].status().name == "RUNNING", "the flood to start")
            late = run(other, program, SIMULATOR, seconds=0.1)
            late.result(timeout=WAIT)
            for job in flood:
                job.result(timeout=WAIT)
        stored = stored_jobs(store_url(server))
        late_start = stored[late.job_id()].started
        assert late_start is not None
        started_before = [
            j for j in flood if (stored[j.job_id()].started or late_start) < late_start
        ]
        # Two flood jobs held the workers when the other instance's job arrived; it went next.
        assert len(started_before) <= 3, f"{len(started_before)} flood jobs went first"
    finally:
        server.stop()


def test_kill_9_and_restart_accounts_for_every_job(tmp_path: Path) -> None:
    kill_9_and_restart(tmp_path, create_user(tmp_path, "carol", "lab/group/main"), None)


def kill_9_and_restart(data_dir: Path, token: str, database_url: str | None) -> None:
    """A server killed with a job running and three queued: after a restart the running one
    has failed with the reason, the queued ones ran, all started after the kill."""
    extra = ("--database-url", database_url) if database_url else ()
    process, url = start_server(data_dir, workers=1, extra=extra)
    server = LiveServer(url, data_dir, token, token, process, database_url)
    try:
        with connect(server) as provider:
            program = upload_sleeper(provider)
            running = run(provider, program, SIMULATOR, seconds=60)
            queued = [run(provider, program, SIMULATOR, seconds=0.2) for _ in range(3)]
            wait_for(lambda: running.status().name == "RUNNING", "the first job to run")
        server.stop(kill=True)
        killed_at = datetime.datetime.now(datetime.UTC)
        process, url = start_server(data_dir, workers=1, extra=extra)
        server = LiveServer(url, data_dir, token, token, process, database_url)
        with connect(server) as provider:
            for job in queued:
                assert provider.runtime.job(job.job_id()).result(timeout=WAIT) == {"slept": 0.2}
            again = provider.runtime.job(running.job_id())
            assert again.status().name == "ERROR"
            assert "server restarted while the job was running" in again.error_message()
        stored = stored_jobs(store_url(server))
        assert stored[running.job_id()].status is JobStatus.FAILED
        assert all(stored[j.job_id()].status is JobStatus.COMPLETED for j in queued)
        assert all((stored[j.job_id()].started or killed_at) >= killed_at for j in queued)
    finally:
        server.stop()


def test_a_job_another_server_stored_runs_too(live_server: LiveServer) -> None:
    # Jobs submitted here reach the scheduler at once; one stored by another API server on the
    # same database is found when the scheduler next reads the store's queue.
    with connect(live_server) as provider, Store.open(store_url(live_server)) as store:
        program = provider.runtime.program("hello-world")
        instance = store.get_instance("ibm-q", "open", "main")
        owner = store.user_by_access_token(provider._session.access_token or "")
        assert instance is not None
        assert owner is not None
        job = store.create_job(
            program_id=program.program_id,
            instance_id=instance.id,
            backend="ibmq_qasm_simulator",
            owner_id=owner.id,
            params=json.dumps({"iterations": 1}),
        )
        done = provider.runtime.job(job.id)
        assert done.result(timeout=WAIT) == "All done!"


SESSION_IDLE_S = 5.0


def test_a_session_keeps_its_device_until_closed_or_idle(tmp_path: Path) -> None:
    token = create_user(tmp_path, "dora", "lab/group/main")
    other_token = create_user(tmp_path, "eve", "other/group/main")
    extra = ("--session-idle", str(SESSION_IDLE_S))
    process, url = start_server(tmp_path, workers=2, extra=extra)
    server = LiveServer(url, tmp_path, token, other_token, process, None)
    bogota = {"backend_name": "ibmq_bogota"}
    try:
        with connect(server) as dora, connect(server, other_token) as eve:
            program = upload_sleeper(dora)
            dora.runtime.set_program_visibility(program, True)
            first = dora.runtime.run(program, {"seconds": 0.1}, bogota, start_session=True)
            first.result(timeout=WAIT)
            outsider = run(eve, program, bogota, seconds=0.1)
            second = dora.runtime.run(program, {"seconds": 0.1}, bogota, session_id=first.job_id())
            second.result(timeout=WAIT)
            # The device has been free all along, but the session holds it.
            assert outsider.status().name == "QUEUED"
            dora.runtime.close_session(first.job_id())
            outsider.result(timeout=WAIT)

            idle = dora.runtime.run(program, {"seconds": 0.1}, bogota, start_session=True)
            idle.result(timeout=WAIT)
            late = run(eve, program, bogota, seconds=0.1)
            late.result(timeout=WAIT)  # starts once the session has been idle long enough
        stored = stored_jobs(store_url(server))
        assert stored[second.job_id()].session_id == first.job_id()
        second_finished = stored[second.job_id()].finished
        outsider_started = stored[outsider.job_id()].started
        assert second_finished is not None
        assert outsider_started is not None
        assert outsider_started >= second_finished
        idle_finished = stored[idle.job_id()].finished
        late_started = stored[late.job_id()].started
        assert idle_finished is not None
        assert late_started is not None
        assert (late_started - idle_finished).total_seconds() >= SESSION_IDLE_S * 0.9
    finally:
        server.stop()


def test_an_instance_runs_no_more_jobs_at_once_than_its_max_running(tmp_path: Path) -> None:
    token = create_user(tmp_path, "fay", "capped/group/main")
    with Store.open_in(tmp_path) as store:
        capped = store.get_instance("capped", "group", "main")
        assert capped is not None
        store.set_instance(capped.id, max_running=1)
    process, url = start_server(tmp_path, workers=2)
    server = LiveServer(url, tmp_path, token, token, process, None)
    try:
        with connect(server) as provider:
            program = upload_sleeper(provider)
            jobs = [run(provider, program, SIMULATOR, seconds=0.5) for _ in range(3)]
            for job in jobs:
                job.result(timeout=WAIT)
        stored = sorted(
            (stored_jobs(store_url(server))[job.job_id()] for job in jobs),
            key=lambda job: job.started or job.created,
        )
        for earlier, later in itertools.pairwise(stored):
            assert earlier.finished is not None
            assert later.started is not None
            assert later.started >= earlier.finished, "two jobs of the instance ran at once"
    finally:
        server.stop()
