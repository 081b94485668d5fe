"""The service on PostgreSQL: a real `qruntime serve --database-url postgresql://...` process.

The store's and the routes' tests run on both databases; these check the whole service on
PostgreSQL: jobs with interim results and a cancel, and a kill -9 restart losing nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from qiskit import QuantumCircuit

from tests.conftest import LiveServer, create_user, fresh_schema, start_server
from tests.test_service import (
    SIMULATOR,
    WAIT,
    connect,
    kill_9_and_restart,
    run,
    upload_sleeper,
    wait_for,
)


@pytest.fixture(scope="module")
def pg_server(
    tmp_path_factory: pytest.TempPathFactory, postgres_database: str
) -> Iterator[LiveServer]:
    database_url = fresh_schema(postgres_database)
    data_dir = tmp_path_factory.mktemp("qruntime-pg")
    token = create_user(
        data_dir, "alice", "test/premium/main", "ibm-q/open/main", database_url=database_url
    )
    open_token = create_user(
        data_dir, "bob", "ibm-q/open/main", plan="open", database_url=database_url
    )
    process, url = start_server(data_dir, extra=("--database-url", database_url))
    server = LiveServer(url, data_dir, token, open_token, process, database_url)
    try:
        yield server
    finally:
        server.stop()


def test_jobs_run_with_interim_results_in_order(pg_server: LiveServer) -> None:
    received: list[Any] = []
    done = threading.Event()

    def callback(job_id: str, message: Any) -> None:
        received.append(message)
        if message == "All done!":
            done.set()

    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure_all()
    with connect(pg_server) as provider:
        hello = provider.runtime.run(
            "hello-world", inputs={"iterations": 3}, options=SIMULATOR, callback=callback
        )
        bell = provider.runtime.run(
            "circuit-runner", inputs={"circuits": circuit}, options=SIMULATOR
        )
        assert hello.result(timeout=WAIT) == "All done!"
        counts = bell.result(timeout=WAIT)["results"][0]["data"]["counts"]
        assert done.wait(WAIT)
    assert [m["iteration"] for m in received[:-1]] == [0, 1, 2]
    assert set(counts) <= {"0x0", "0x3"}


def test_a_running_job_is_cancelled(pg_server: LiveServer) -> None:
    with connect(pg_server) as provider:
        program = upload_sleeper(provider)
        job = run(provider, program, SIMULATOR, seconds=60)
        wait_for(lambda: job.status().name == "RUNNING", "the job to run")
        job.cancel()
        wait_for(lambda: job.status().name == "CANCELLED", "the job to be cancelled")


def test_kill_9_and_restart_accounts_for_every_job(tmp_path: Path, postgres_database: str) -> None:
    database_url = fresh_schema(postgres_database)
    token = create_user(tmp_path, "carol", "lab/group/main", database_url=database_url)
    kill_9_and_restart(tmp_path, token, database_url)
