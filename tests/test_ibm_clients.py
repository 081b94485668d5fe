"""IBM's real clients, unmodified, against a real `qruntime serve` over HTTPS and WSS.

Each scenario is a script in ``tests/compat`` run by the client's own interpreter (see
``tests/reference_clients.py``), with the server's certificate passed the way IBM's clients
take one: ``REQUESTS_CA_BUNDLE`` and ``WEBSOCKET_CLIENT_CA_BUNDLE``.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from tests.conftest import LiveServer
from tests.reference_clients import IBM_RUNTIME, IBMQ_PROVIDER, ReferenceClient, python_of

COMPAT = Path(__file__).parent / "compat"
PREMIUM = {"QRUNTIME_HUB": "test", "QRUNTIME_GROUP": "premium", "QRUNTIME_PROJECT": "main"}
"""The live server's premium instance, for qiskit-ibmq-provider's enable_account."""
RUN_TIMEOUT_S = 600


def run_script(
    client: ReferenceClient, script: str, server: LiveServer, **settings: str
) -> dict[str, Any]:
    """Run ``tests/compat/SCRIPT`` in the client's environment; its last line, as JSON."""
    certificate = str(server.certfile)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", ""),
        "PYTHONWARNINGS": "ignore",
        "REQUESTS_CA_BUNDLE": certificate,
        "WEBSOCKET_CLIENT_CA_BUNDLE": certificate,
        "QRUNTIME_URL": server.url,
        "QRUNTIME_TOKEN": server.token,
        **settings,
    }
    with tempfile.TemporaryDirectory(prefix="qruntime-compat-") as workdir:  # files it writes
        done = subprocess.run(
            [str(python_of(client)), str(COMPAT / script)],
            env=env,
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
        )
    assert done.returncode == 0, f"{script} failed:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_seed_example_runs_verbatim_in_qiskit_ibmq_provider(live_server: LiveServer) -> None:
    seen = run_script(
        IBMQ_PROVIDER,
        "ibmq_provider_seed.py",
        live_server,
        **PREMIUM,
    )
    assert seen["status"] == "DONE"
    counts = seen["counts"]
    assert sum(counts.values()) == 1024  # circuit-runner's default shots
    # A 3-qubit GHZ on the noisy ibmq_bogota emulator: mostly 000 and 111.
    assert counts.get("0x0", 0) + counts.get("0x7", 0) > 0.7 * 1024


def test_hello_world_callback_in_qiskit_ibm_runtime(live_server: LiveServer) -> None:
    seen = run_script(
        IBM_RUNTIME, "ibm_runtime_hello.py", live_server, QRUNTIME_INSTANCE="test/premium/main"
    )
    assert seen["status"] == "DONE"
    assert seen["result"] == "All done!"
    callback = seen["callback"]
    assert [message["iteration"] for message in callback[:-1]] == [0, 1, 2]
    assert callback[-1] == "All done!"
    # The real service's shape: each published message as a string, newest first.
    assert [json.loads(text)["iteration"] for text in seen["interim"]] == [2, 1, 0]


def test_programs_jobs_errors_and_run_circuits_in_qiskit_ibmq_provider(
    live_server: LiveServer,
) -> None:
    seen = run_script(
        IBMQ_PROVIDER,
        "ibmq_provider_programs.py",
        live_server,
        **PREMIUM,
    )
    assert seen["program"]["description"] == "Sleeps, or fails, on request."
    assert seen["program"]["public"] is True
    assert seen["listed"] is True
    assert "the program broke on purpose" in seen["failure"]
    assert 'File "program.py", line 7, in main' in seen["error_message"]
    assert seen["logs"] == "starting\n"
    assert seen["cancelled"] == "CANCELLED"
    assert seen["jobs_ours"] == 22  # every one of the 22 jobs on the pages listed
    assert seen["counts_total"] == 2048
    assert seen["mapping"] == {"0": 0, "1": 1, "2": 2}
    quasi = seen["quasi"]
    assert set(quasi) <= {format(i, "03b") for i in range(8)}
    assert quasi["000"] + quasi["111"] > 0.85  # mitigated GHZ on the bogota emulator
    assert seen["deleted"] is True


def test_an_open_plan_user_has_simulators_only_in_qiskit_ibmq_provider(
    live_server: LiveServer,
) -> None:
    seen = run_script(
        IBMQ_PROVIDER,
        "ibmq_provider_open_plan.py",
        live_server,
        QRUNTIME_TOKEN=live_server.open_token,
    )
    assert seen["hgp"] == ["ibm-q", "open", "main"]
    assert "ibmq_qasm_simulator" in seen["backends"]
    assert not [
        name
        for name in seen["backends"]
        if name.startswith(("ibmq_", "ibm_")) and name != "ibmq_qasm_simulator"
    ]
    assert seen["upload"].startswith("not authorized")
    assert seen["simulator_result"] == "All done!"


def test_the_seeds_api_direct_flow_with_plain_requests(live_server: LiveServer) -> None:
    session = requests.Session()
    session.trust_env = False  # the server's certificate, not a bundle from the environment
    session.verify = str(live_server.certfile)
    login = session.post(
        f"{live_server.url}/api/users/loginWithToken", json={"apiToken": live_server.token}
    )
    assert login.status_code == 200
    session.headers["X-Access-Token"] = login.json()["id"]
    runtime = f"{live_server.url}/runtime"
    programs = session.get(f"{runtime}/programs").json()
    assert "hello-world" in [program["id"] for program in programs["programs"]]
    body = {
        "program_id": "hello-world",
        "hub": "test",
        "group": "premium",
        "project": "main",
        "backend": "ibmq_qasm_simulator",
        "params": {"iterations": 2},
    }
    job = session.post(f"{runtime}/jobs", data=json.dumps(body))
    assert job.status_code == 200, job.text
    job_id = job.json()["id"]
    deadline = time.monotonic() + RUN_TIMEOUT_S
    results = session.get(f"{runtime}/jobs/{job_id}/results")
    statuses = {results.status_code}
    while results.status_code == 204 and time.monotonic() < deadline:
        time.sleep(0.1)  # the notebook's loop: ask again until the result is there
        results = session.get(f"{runtime}/jobs/{job_id}/results")
        statuses.add(results.status_code)
    assert results.status_code == 200
    assert results.json() == "All done!"
    assert statuses <= {200, 204}


def test_backends_least_busy_and_job_tags_in_qiskit_ibm_runtime(live_server: LiveServer) -> None:
    seen = run_script(
        IBM_RUNTIME, "ibm_runtime_backends.py", live_server, QRUNTIME_INSTANCE="test/premium/main"
    )
    assert "ibmq_bogota" in seen["backends"]
    assert "ibmq_qasm_simulator" in seen["simulators"]
    assert "ibmq_bogota" not in seen["simulators"]
    assert seen["least_busy"] not in seen["simulators"]
    assert seen["least_busy_qubits"] >= 5
    assert seen["result"] == "All done!"
    assert seen["job_id"] in seen["tagged"]


def test_callbacks_job_lookup_and_max_execution_time_in_qiskit_ibmq_provider(
    live_server: LiveServer,
) -> None:
    seen = run_script(
        IBMQ_PROVIDER,
        "ibmq_provider_jobs.py",
        live_server,
        **PREMIUM,
    )
    assert seen["result"] == "All done!"
    assert [message["iteration"] for message in seen["callback"][:-1]] == [0, 1, 2]
    assert seen["callback"][-1] == "All done!"
    assert seen["later"] == "All done!"
    assert (seen["job_program"], seen["job_status"]) == ("hello-world", "DONE")
    assert seen["deleted"] is True
    for name in ("circuit-runner", "hello-world", "sample-program"):
        assert f"{name}:\n  Name: {name}" in seen["pprint"]
    assert "ran longer than maximum execution time" in seen["too_long"]
    assert seen["too_long_status"] == "ERROR"


def test_a_session_of_several_jobs_in_qiskit_ibm_runtime(live_server: LiveServer) -> None:
    seen = run_script(
        IBM_RUNTIME,
        "ibm_runtime_session.py",
        live_server,
        QRUNTIME_INSTANCE="test/premium/main",
        QRUNTIME_BACKEND="ibmq_bogota",
    )
    assert seen["session_id"] == seen["jobs"][0]  # the first job's id names the session
    assert seen["backends"] == ["ibmq_bogota"] * 3
    assert seen["results"] == ["All done!"] * 3
    assert seen["listed"] == sorted(seen["jobs"])
