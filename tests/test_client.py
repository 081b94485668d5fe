"""The Python client against a real ``qruntime serve``: the API of IBM's runtime clients.

Every test but the streaming one talks to the ``live_server`` fixture (a server process with a
premium and an open-plan user); the reconnect test needs a socket that closes abnormally, which
the real server never does on purpose, so it uses a WebSocket server of its own.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from qiskit import QuantumCircuit
from qiskit.providers import JobStatus
from qiskit.result import Result
from websockets.server import ServerProtocol
from websockets.sync.server import ServerConnection, serve

from qruntime import RuntimeProvider
from qruntime.client import (
    NotAuthorizedError,
    ParameterNamespace,
    RuntimeDuplicateProgramError,
    RuntimeInvalidStateError,
    RuntimeJob,
    RuntimeJobFailureError,
    RuntimeJobMaxTimeoutError,
    RuntimeJobNotFound,
    RuntimeJobTimeoutError,
    RuntimeProgramNotFound,
    RuntimeRequestError,
)
from qruntime.client.listener import Listener
from qruntime.client.rest import RuntimeRest
from qruntime.client.stream import ResultStream, StreamOutcome
from qruntime.server.tls import local_certificate

UTILITY_SOURCE = """\
import time


def main(backend, user_messenger, seconds=0.0, fail=False, say=None, publish=0):
    if say:
        print(say, flush=True)
    for step in range(publish):
        user_messenger.publish({"step": step})
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)
    if fail:
        raise ValueError("the program failed on purpose")
    return {"slept": seconds, "backend": backend.name}
"""

UTILITY_SPEC = {
    "backend_requirements": {"min_num_qubits": 1},
    "parameters": {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "properties": {
            "seconds": {"type": "number", "description": "How long to run."},
            "fail": {"type": "boolean", "description": "Raise at the end."},
            "say": {"type": "string", "description": "A line to print."},
            "publish": {"type": "integer", "description": "Interim results to publish."},
        },
    },
    "return_values": {"type": "object", "description": "What the program did."},
}

SIMULATOR = {"backend_name": "ibmq_qasm_simulator"}
WAIT = 300  # seconds any single job may take in these tests, so a hang fails instead of stalling


def certificate(server: Any) -> Path:
    path = local_certificate(Path(server.data_dir))
    assert path is not None, "the server made no certificate in its data dir"
    return path


@pytest.fixture(scope="module")
def provider(live_server: Any) -> Iterator[RuntimeProvider]:
    with RuntimeProvider(live_server.url, live_server.token, verify=certificate(live_server)) as p:
        yield p


@pytest.fixture(scope="module")
def open_provider(live_server: Any) -> Iterator[RuntimeProvider]:
    with RuntimeProvider(
        live_server.url, live_server.open_token, verify=certificate(live_server)
    ) as p:
        yield p


@pytest.fixture(scope="module")
def utility(provider: RuntimeProvider) -> Iterator[str]:
    """A program of the premium user that sleeps, prints, publishes or fails on request."""
    metadata = {
        "name": f"client-utility-{uuid.uuid4().hex[:8]}",
        "description": "Sleeps, prints, publishes or fails, as asked.",
        "max_execution_time": 600,
        "spec": UTILITY_SPEC,
    }
    program_id = provider.runtime.upload_program(data=UTILITY_SOURCE, metadata=metadata)
    yield program_id
    provider.runtime.delete_program(program_id)


def run_utility(provider: RuntimeProvider, program_id: str, **inputs: Any) -> RuntimeJob:
    return provider.runtime.run(program_id, inputs=inputs, options=SIMULATOR)


def wait_until_running(job: RuntimeJob) -> None:
    deadline = time.monotonic() + WAIT
    while job.status() is JobStatus.QUEUED and time.monotonic() < deadline:
        time.sleep(0.1)
    assert job.status() is JobStatus.RUNNING


# -- the seed's example and streaming ---------------------------------------------------------


def test_the_design_example_gives_counts_from_bogota(provider: RuntimeProvider) -> None:
    circuit = QuantumCircuit(3)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.cx(1, 2)
    circuit.measure_all()
    messages: list[tuple[str, Any]] = []
    job = provider.runtime.run(
        program_id="circuit-runner",
        options={"backend_name": "ibmq_bogota"},
        inputs={"circuits": circuit, "optimization_level": 3},
        callback=lambda job_id, msg: messages.append((job_id, msg)),
    )
    counts = Result.from_dict(job.result(timeout=WAIT)).get_counts()
    assert sum(counts.values()) == 1024
    assert counts["000"] + counts["111"] > 700, counts
    assert job.status() is JobStatus.DONE
    assert job.backend() == "ibmq_bogota"
    assert all(job_id == job.job_id() for job_id, _ in messages)


def test_a_callback_gets_every_interim_result_in_order_then_the_result(
    provider: RuntimeProvider,
) -> None:
    received: list[Any] = []
    job = provider.runtime.run(
        "hello-world",
        inputs={"iterations": 3},
        options=SIMULATOR,
        callback=lambda _job_id, message: received.append(message),
    )
    assert job.result(timeout=WAIT) == "All done!"
    # result() returns once the stream has delivered everything: no sleeping needed here.
    assert [message["iteration"] for message in received[:3]] == [0, 1, 2]
    assert received[3:] == ["All done!"]
    assert job.interim_results() == received[:3]


def test_result_waits_on_the_websocket_not_by_polling(
    provider: RuntimeProvider, utility: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = run_utility(provider, utility, seconds=3)
    reads: list[str] = []
    read_job = RuntimeRest.job

    def counting(rest: RuntimeRest, job_id: str) -> dict[str, Any]:
        reads.append(job_id)
        return read_job(rest, job_id)

    monkeypatch.setattr(RuntimeRest, "job", counting)
    assert job.result(timeout=WAIT) == {"slept": 3, "backend": "ibmq_qasm_simulator"}
    assert len(reads) <= 3, f"{len(reads)} status reads in 3 seconds: that is polling"


def test_stream_results_of_a_finished_job_is_refused(provider: RuntimeProvider) -> None:
    job = provider.runtime.run("hello-world", inputs={"iterations": 1}, options=SIMULATOR)
    job.wait_for_final_state(timeout=WAIT)
    with pytest.raises(RuntimeInvalidStateError):
        job.stream_results(lambda _job_id, _message: None)


def test_stream_results_after_submitting(provider: RuntimeProvider, utility: str) -> None:
    job = run_utility(provider, utility, seconds=1, publish=2)
    received: list[Any] = []
    job.stream_results(lambda _job_id, message: received.append(message))
    result = job.result(timeout=WAIT)
    assert received == [{"step": 0}, {"step": 1}, result]


# -- programs ---------------------------------------------------------------------------------


def test_programs_lists_the_built_in_ones(provider: RuntimeProvider) -> None:
    programs = {program.program_id: program for program in provider.runtime.programs(limit=None)}
    assert {"hello-world", "circuit-runner"} <= set(programs)
    hello = provider.runtime.program("hello-world")
    assert hello.max_execution_time > 0
    assert hello.is_public
    inputs = hello.parameters()
    assert isinstance(inputs, ParameterNamespace)
    assert inputs.iterations is None
    inputs.iterations = 2
    job = provider.runtime.run("hello-world", inputs=inputs, options=SIMULATOR)
    assert job.result(timeout=WAIT) == "All done!"
    assert job.inputs == {"iterations": 2}


def test_pprint_programs_prints_ibms_layout(
    provider: RuntimeProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    provider.runtime.pprint_programs(refresh=True, limit=None)
    short = capsys.readouterr().out
    assert "=" * 50 + "\nhello-world:\n  Name: hello-world\n  Description: " in short
    provider.runtime.pprint_programs(detailed=True, limit=None)
    detailed = capsys.readouterr().out
    assert "  Input parameters:\n    Properties:\n        - iterations:\n" in detailed
    assert "            Required: False" in detailed
    assert "  Max execution time: " in detailed


def test_upload_update_visibility_and_delete(
    provider: RuntimeProvider, open_provider: RuntimeProvider, tmp_path: Path
) -> None:
    runtime = provider.runtime
    name = f"client-lifecycle-{uuid.uuid4().hex[:8]}"
    source_file = tmp_path / "program.py"
    source_file.write_text(UTILITY_SOURCE, encoding="utf-8")
    metadata_file = tmp_path / "metadata.json"
    # The older list format: qruntime reads both.
    metadata_file.write_text(
        json.dumps(
            {
                "name": name,
                "description": "first",
                "max_execution_time": 300,
                "parameters": [
                    {"name": "seconds", "description": "s", "type": "float", "required": False}
                ],
            }
        ),
        encoding="utf-8",
    )
    program_id = runtime.upload_program(data=str(source_file), metadata=str(metadata_file))
    try:
        program = runtime.program(program_id)
        assert program.name == name
        assert program.description == "first"
        assert program.data == UTILITY_SOURCE
        assert program.parameters().metadata["properties"]["seconds"]["type"] == "number"
        assert not program.is_public
        with pytest.raises(RuntimeDuplicateProgramError):
            runtime.upload_program(data=UTILITY_SOURCE, metadata={"name": name})

        runtime.update_program(program_id, description="second", max_execution_time=120)
        updated = runtime.program(program_id, refresh=True)
        assert (updated.description, updated.max_execution_time) == ("second", 120)
        runtime.update_program(program_id, data=UTILITY_SOURCE + "# second\n")
        assert runtime.program(program_id, refresh=True).data.endswith("# second\n")
        job = runtime.run(program_id, inputs={"seconds": 0}, options=SIMULATOR)
        assert job.result(timeout=WAIT) == {"slept": 0, "backend": "ibmq_qasm_simulator"}

        with pytest.raises(RuntimeProgramNotFound):
            open_provider.runtime.program(program_id, refresh=True)
        runtime.set_program_visibility(program_id, public=True)
        assert open_provider.runtime.program(program_id, refresh=True).is_public
        with pytest.raises(NotAuthorizedError):
            _ = open_provider.runtime.program(program_id).data  # only the author reads the source
        runtime.set_program_visibility(program_id, public=False)
        with pytest.raises(RuntimeProgramNotFound):
            open_provider.runtime.program(program_id, refresh=True)
    finally:
        runtime.delete_program(program_id)
    with pytest.raises(RuntimeProgramNotFound):
        runtime.program(program_id, refresh=True)
    with pytest.raises(RuntimeProgramNotFound):
        runtime.delete_program(program_id)


def test_programs_page_through_more_than_twenty(provider: RuntimeProvider) -> None:
    runtime = provider.runtime
    prefix = f"client-page-{uuid.uuid4().hex[:6]}"
    uploaded = [
        runtime.upload_program(data=UTILITY_SOURCE, metadata={"name": f"{prefix}-{index:02d}"})
        for index in range(21)
    ]
    try:
        listed = [program.program_id for program in runtime.programs(refresh=True, limit=None)]
        assert len(listed) == len(set(listed)), "a program was listed twice"
        assert set(uploaded) <= set(listed)
        assert len(listed) >= 21 + 2  # the uploads and at least hello-world and circuit-runner
        page = runtime.programs(limit=5, skip=20)
        assert [program.program_id for program in page] == listed[20:25]
        assert len(runtime.programs()) == 20  # IBM's default limit
    finally:
        for program_id in uploaded:
            runtime.delete_program(program_id)


def test_the_open_plan_cannot_upload(open_provider: RuntimeProvider) -> None:
    with pytest.raises(NotAuthorizedError):
        open_provider.runtime.upload_program(
            data=UTILITY_SOURCE, metadata={"name": f"not-allowed-{uuid.uuid4().hex[:8]}"}
        )


# -- jobs -------------------------------------------------------------------------------------


def test_jobs_pages_through_more_than_twenty(provider: RuntimeProvider) -> None:
    runtime = provider.runtime
    program_id = runtime.upload_program(
        data=UTILITY_SOURCE, metadata={"name": f"client-many-{uuid.uuid4().hex[:8]}"}
    )
    try:
        submitted = [runtime.run(program_id, inputs={}, options=SIMULATOR) for _ in range(23)]
        for job in submitted:
            job.wait_for_final_state(timeout=WAIT)
        ids = {job.job_id() for job in submitted}
        every = runtime.jobs(limit=None, program_id=program_id)
        assert len(every) == 23
        assert {job.job_id() for job in every} == ids
        assert [job.job_id() for job in runtime.jobs(limit=30, program_id=program_id)] == [
            job.job_id() for job in every
        ]
        assert len(runtime.jobs(program_id=program_id)) == 10  # IBM's default limit
        tail = runtime.jobs(limit=10, skip=20, program_id=program_id)
        assert [job.job_id() for job in tail] == [job.job_id() for job in every[20:]]
        assert len(runtime.jobs(limit=None, pending=False, program_id=program_id)) == 23
        assert runtime.jobs(limit=None, pending=True, program_id=program_id) == []
        assert all(job.status() is JobStatus.DONE for job in every)
    finally:
        runtime.delete_program(program_id)


def test_a_job_found_by_id(provider: RuntimeProvider, utility: str) -> None:
    submitted = run_utility(provider, utility, say="found")
    submitted.wait_for_final_state(timeout=WAIT)
    job = provider.runtime.job(submitted.job_id())
    assert job.job_id == submitted.job_id()  # usable as a string too, as in IBM's 0.7 client
    assert job.program_id == utility
    assert job.backend() == "ibmq_qasm_simulator"
    assert job.inputs == {"say": "found"}
    assert isinstance(job.creation_date, datetime)
    assert job.creation_date.tzinfo is not None
    assert job.status() is JobStatus.DONE
    provider.runtime.delete_job(job.job_id())
    with pytest.raises(RuntimeJobNotFound):
        provider.runtime.job(job.job_id())
    with pytest.raises(RuntimeJobNotFound):
        provider.runtime.job("no-such-job")


def test_cancel_a_running_job(provider: RuntimeProvider, utility: str) -> None:
    job = run_utility(provider, utility, seconds=120)
    wait_until_running(job)
    job.cancel()
    assert job.status() is JobStatus.CANCELLED
    with pytest.raises(RuntimeInvalidStateError):
        job.result(timeout=WAIT)
    again = provider.runtime.job(job.job_id())
    again.wait_for_final_state(timeout=WAIT)
    assert again.status() is JobStatus.CANCELLED
    with pytest.raises(RuntimeInvalidStateError):
        again.cancel()


def test_logs_hold_what_the_program_printed(provider: RuntimeProvider, utility: str) -> None:
    job = run_utility(provider, utility, say="hello from the program")
    job.result(timeout=WAIT)
    assert "hello from the program" in job.logs()


def test_a_failing_program_says_why(provider: RuntimeProvider, utility: str) -> None:
    job = run_utility(provider, utility, fail=True)
    with pytest.raises(RuntimeJobFailureError, match="the program failed on purpose"):
        job.result(timeout=WAIT)
    assert job.status() is JobStatus.ERROR
    message = job.error_message()
    assert message is not None
    assert message.startswith(f"Job {job.job_id()} has failed:")
    assert "ValueError: the program failed on purpose" in message


def test_waiting_too_long_raises_a_timeout(provider: RuntimeProvider, utility: str) -> None:
    job = run_utility(provider, utility, seconds=120)
    started = time.monotonic()
    with pytest.raises(RuntimeJobTimeoutError):
        job.result(timeout=1)
    assert time.monotonic() - started < 30
    job.cancel()


def test_running_past_the_max_execution_time(provider: RuntimeProvider, utility: str) -> None:
    job = provider.runtime.run(
        utility, inputs={"seconds": 120}, options=SIMULATOR, max_execution_time=2
    )
    with pytest.raises(RuntimeJobMaxTimeoutError, match="ran longer than maximum execution time"):
        job.result(timeout=WAIT)
    assert job.status() is JobStatus.ERROR


# -- accounts and TLS -------------------------------------------------------------------------


def test_a_bad_token_is_not_authorized(live_server: Any) -> None:
    with pytest.raises(NotAuthorizedError, match="did not accept the API token"):
        RuntimeProvider(live_server.url, "not-a-token", verify=certificate(live_server))


def test_an_expired_access_token_logs_in_again(provider: RuntimeProvider) -> None:
    provider._session.access_token = "expired"
    assert provider.runtime.programs(refresh=True)
    assert provider._session.access_token != "expired"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_verify_none_trusts_the_data_dirs_certificate_on_this_machine(
    live_server: Any, monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    url = live_server.url.replace("127.0.0.1", host)
    monkeypatch.setenv("QRUNTIME_DATA_DIR", str(live_server.data_dir))
    with RuntimeProvider(url, live_server.token) as trusting:
        job = trusting.runtime.run(
            "hello-world",
            inputs={"iterations": 1},
            options=SIMULATOR,
            callback=lambda _job_id, _message: None,
        )
        assert job.result(timeout=WAIT) == "All done!"


def test_verify_none_without_the_certificate_refuses(
    live_server: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("QRUNTIME_DATA_DIR", str(tmp_path))
    with pytest.raises(RuntimeRequestError, match="CERTIFICATE_VERIFY_FAILED"):
        RuntimeProvider(live_server.url, live_server.token)
    with RuntimeProvider(live_server.url, live_server.token, verify=False) as unverified:
        assert unverified.runtime.program("hello-world").name == "hello-world"


def test_backends_of_the_account(provider: RuntimeProvider, open_provider: RuntimeProvider) -> None:
    assert "ibmq_bogota" in provider.backends()
    assert "ibmq_qasm_simulator" in open_provider.backends()
    assert "ibmq_bogota" not in open_provider.backends()


def test_local_runs_an_embedded_service(tmp_path: Path) -> None:
    with RuntimeProvider.local(tmp_path / "local") as local:
        job = local.runtime.run("hello-world", inputs={"iterations": 1}, options=SIMULATOR)
        assert job.result(timeout=WAIT) == "All done!"


def test_importing_qruntime_does_not_load_the_client() -> None:
    code = (
        "import sys, qruntime; assert 'qruntime.client' not in sys.modules; "
        "assert qruntime.RuntimeProvider.__module__ == 'qruntime.client.provider'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- streaming: reconnecting after an abnormal close ------------------------------------------


def test_a_stream_reconnects_and_delivers_each_message_once() -> None:
    connections: list[int] = []

    def handler(connection: ServerConnection) -> None:
        connections.append(1)
        connection.send("ACK")
        if len(connections) == 1:
            connection.send("1")
            connection.send("2")
            connection.close(code=1011)  # abnormal: the client must reconnect
            return
        for message in ("1", "2", "3", '"final"'):  # a new connection replays from the first
            connection.send(message)
        connection.close(code=1000)

    received: list[str] = []
    with serve(handler, "127.0.0.1", 0) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.socket.getsockname()[1]
        stream = ResultStream(
            f"ws://127.0.0.1:{port}/stream/jobs/x", dict, None, received.append
        ).start()
        assert stream.wait(timeout=30)
        server.shutdown()
    assert stream.outcome is StreamOutcome.CLOSED
    assert received == ["1", "2", "3", '"final"']
    assert len(connections) == 2


# -- how few requests waiting takes ----------------------------------------------------------


def count_requests(provider: RuntimeProvider) -> list[str]:
    """Record the path of every HTTP request the provider sends from now on."""
    paths: list[str] = []
    hooks = provider._session._http.event_hooks["request"]
    hooks.append(lambda request: paths.append(request.url.path))
    return paths


def test_a_fresh_job_ends_on_its_websocket_without_further_requests(
    live_server: Any,
) -> None:
    with RuntimeProvider(live_server.url, live_server.token, verify=certificate(live_server)) as p:
        job = p.runtime.run("hello-world", inputs={"iterations": 2}, options=SIMULATOR)
        paths = count_requests(p)
        assert job.result(timeout=WAIT) == "All done!"
        assert job.status() is JobStatus.DONE
    assert paths == []  # the socket's close said COMPLETED, and its last message was the result


def test_a_job_known_from_long_ago_needs_one_request_once_finished(
    live_server: Any,
) -> None:
    with RuntimeProvider(live_server.url, live_server.token, verify=certificate(live_server)) as p:
        job = p.runtime.run("hello-world", inputs={"iterations": 1}, options=SIMULATOR)
        p.runtime.job(job.job_id).result(timeout=WAIT)  # finished, seen through another handle
        job._status_read -= 60  # as if result() came a minute after submitting
        paths = count_requests(p)
        assert job.result(timeout=WAIT) == "All done!"
        assert job.status() is JobStatus.DONE
    assert paths == [f"/runtime/jobs/{job.job_id}/results"]


def test_closing_a_listener_from_another_thread_wakes_its_reader() -> None:
    quiet = threading.Event()

    def handler(connection: ServerConnection) -> None:
        connection.send("ACK")
        quiet.wait(WAIT)  # then says nothing more until the test ends

    with serve(handler, "127.0.0.1", 0) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.socket.getsockname()[1]
        listener = Listener(f"ws://127.0.0.1:{port}/stream/jobs/x", {}, None)
        listener.open()
        received: list[str] = []
        ended = threading.Event()

        def read() -> None:
            received.extend(listener.messages())
            ended.set()

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + WAIT
        while not received and time.monotonic() < deadline:
            time.sleep(0.01)
        listener.close()
        assert ended.wait(WAIT)
        quiet.set()
        server.shutdown()
    assert received == ["ACK"]
    assert listener.close_code == 1006  # ended by us, not by the server's close frame


def test_messages_that_arrive_with_the_upgrade_answer_are_kept() -> None:
    """A finished job's replay can reach the client in the same read as the 101 answer."""
    listening = socket.create_server(("127.0.0.1", 0))

    def serve_once() -> None:
        connection, _ = listening.accept()
        with connection:
            protocol = ServerProtocol()
            while not (events := protocol.events_received()):
                protocol.receive_data(connection.recv(65536))
            protocol.send_response(protocol.accept(events[0]))
            for text in ("ACK", "1", '"final"'):
                protocol.send_text(text.encode())
            protocol.send_close(1000, "COMPLETED")
            connection.sendall(b"".join(protocol.data_to_send()))  # all in one write
            while connection.recv(65536):  # until the client closes
                pass

    server = threading.Thread(target=serve_once, daemon=True)
    server.start()
    port = listening.getsockname()[1]
    listener = Listener(f"ws://127.0.0.1:{port}/stream/jobs/x", {}, None)
    listener.open()
    assert list(listener.messages()) == ["ACK", "1", '"final"']
    assert (listener.close_code, listener.close_reason) == (1000, "COMPLETED")
    server.join(WAIT)
    listening.close()
