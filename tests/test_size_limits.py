"""Size limits, through a real `qruntime serve` over HTTPS: program source (5 MiB), one interim
result (1 MiB), interim results per job (``--max-interim-results``) and a job's log (1 MiB)."""

from __future__ import annotations

import base64
import ssl
import uuid
from collections.abc import Iterator

import httpx
import pytest

from qruntime import RuntimeProvider
from qruntime.client import RuntimeJob
from qruntime.client.errors import RuntimeJobFailureError
from qruntime.server.routes.uploads import MAX_SOURCE_BYTES
from qruntime.store import DEFAULT_LOG_CAP_BYTES
from tests.conftest import LiveServer, create_user, start_server

MAX_INTERIM_RESULTS = 3
SIMULATOR = {"backend_name": "ibmq_qasm_simulator"}
WAIT = 300
MIB = 1024 * 1024

PUBLISHER = """\
def main(backend, user_messenger, size=0, count=0, catch=False):
    for i in range(count):
        user_messenger.publish(i)
    if not size:
        return "done"
    if catch:
        try:
            user_messenger.publish("x" * size)
        except Exception as exc:
            user_messenger.publish("small")
            return str(exc)
    user_messenger.publish("x" * size)
    return "published"
"""

PRINTER = """\
def main(backend, user_messenger, lines=30_000):
    for i in range(lines):
        print(f"{i:09d} " + "y" * 89)  # 100 bytes a line
    return "printed"
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("qruntime-limits")
    token = create_user(data_dir, "ann", "test/premium/main")
    extra = ("--max-interim-results", str(MAX_INTERIM_RESULTS))
    process, url = start_server(data_dir, workers=1, extra=extra)
    server = LiveServer(url, data_dir, token, token, process, None)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def provider(server: LiveServer) -> Iterator[RuntimeProvider]:
    with RuntimeProvider(url=server.url, token=server.token, verify=server.certfile) as opened:
        yield opened


def upload(provider: RuntimeProvider, source: str) -> str:
    metadata = {"name": f"limits-{uuid.uuid4().hex[:8]}", "max_execution_time": 600}
    return provider.runtime.upload_program(data=source, metadata=metadata)


def run(provider: RuntimeProvider, program_id: str, **inputs: object) -> RuntimeJob:
    job = provider.runtime.run(program_id, inputs=inputs, options=SIMULATOR)
    job.wait_for_final_state(timeout=WAIT)
    return job


@pytest.fixture(scope="module")
def publisher(provider: RuntimeProvider) -> str:
    return upload(provider, PUBLISHER)


# Program source -------------------------------------------------------------------------------


def source_of_size(size: int) -> str:
    head = "def main(backend, user_messenger, **kwargs):\n    return 'big'\n"
    return head + "#" * (size - len(head) - 1) + "\n"


@pytest.fixture
def api(server: LiveServer) -> Iterator[httpx.Client]:
    """An HTTP client logged in as the server's premium user."""
    verify = ssl.create_default_context(cafile=str(server.certfile))
    with httpx.Client(base_url=server.url, verify=verify, timeout=60) as client:
        response = client.post("/api/users/loginWithToken", json={"apiToken": server.token})
        client.headers["X-Access-Token"] = response.json()["id"]
        yield client


def b64(source: str) -> str:
    return base64.b64encode(source.encode()).decode()


def assert_source_too_large(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text
    error = response.json()["error"]
    assert error["code"] == 413
    assert f"may be at most {MAX_SOURCE_BYTES} bytes" in error["message"]
    assert "pass it to the program as inputs" in error["message"]


def test_program_source_up_to_5_mib_is_taken_and_more_is_413(
    api: httpx.Client, provider: RuntimeProvider
) -> None:
    largest = source_of_size(MAX_SOURCE_BYTES)
    assert len(largest.encode()) == MAX_SOURCE_BYTES
    body = {"name": f"big-{uuid.uuid4().hex[:8]}", "data": b64(largest), "cost": 600}
    response = api.post("/runtime/programs", json=body)
    assert response.status_code == 201, response.text
    program_id = response.json()["id"]
    assert run(provider, program_id).result(timeout=WAIT) == "big"

    too_large = source_of_size(MAX_SOURCE_BYTES + 1)
    body = {"name": f"bigger-{uuid.uuid4().hex[:8]}", "data": b64(too_large), "cost": 600}
    response = api.post("/runtime/programs", json=body)
    assert_source_too_large(response)
    assert str(MAX_SOURCE_BYTES + 1) in response.json()["error"]["message"]

    response = api.put(f"/runtime/programs/{program_id}/data", content=b64(too_large))
    assert_source_too_large(response)
    stored = api.get(f"/runtime/programs/{program_id}").json()["data"]
    assert stored == largest  # the refused update changed nothing

    # Base64 far past the limit is refused before it is decoded.
    response = api.put(f"/runtime/programs/{program_id}/data", content="QUFB" * MAX_SOURCE_BYTES)
    assert_source_too_large(response)


# Interim results ------------------------------------------------------------------------------


def test_an_interim_result_over_1_mib_fails_its_publish_not_the_worker(
    provider: RuntimeProvider, publisher: str
) -> None:
    refused = f"an interim result of {2 * MIB + 2} bytes was refused"  # the JSON text's quotes

    caught = run(provider, publisher, size=2 * MIB, catch=True)
    message = caught.result(timeout=WAIT)
    assert refused in message
    assert f"at most {MIB} bytes" in message
    assert caught.interim_results() == ["small"]
    assert refused in caught.logs()  # said in the log too, for programs that swallow it

    failed = run(provider, publisher, size=2 * MIB)
    with pytest.raises(RuntimeJobFailureError):
        failed.result(timeout=WAIT)
    error = failed.error_message() or ""
    assert refused in error
    assert "publish smaller messages" in error
    assert failed.interim_results() == []

    # Exactly 1 MiB of JSON goes through; the worker went on serving jobs all along.
    fits = run(provider, publisher, size=MIB - 2)
    assert fits.result(timeout=WAIT) == "published"
    assert fits.interim_results() == ["x" * (MIB - 2)]


def test_interim_results_past_the_servers_number_are_dropped(
    provider: RuntimeProvider, publisher: str
) -> None:
    job = run(provider, publisher, count=MAX_INTERIM_RESULTS + 4)
    assert job.result(timeout=WAIT) == "done"
    assert job.interim_results() == list(range(MAX_INTERIM_RESULTS))
    assert f"interim results beyond the first {MAX_INTERIM_RESULTS} dropped" in job.logs()


# The log --------------------------------------------------------------------------------------


def test_a_3_mb_log_keeps_its_first_mib_and_marks_the_cut(provider: RuntimeProvider) -> None:
    job = run(provider, upload(provider, PRINTER))
    assert job.result(timeout=WAIT) == "printed"
    log = job.logs()
    size = len(log.encode())
    assert DEFAULT_LOG_CAP_BYTES <= size <= DEFAULT_LOG_CAP_BYTES + 200, size
    assert log.startswith("000000000 " + "y" * 89 + "\n")
    assert log.endswith(f"truncated at {DEFAULT_LOG_CAP_BYTES} bytes]\n")
    lines = log.splitlines()
    # Every whole line kept is one the program printed, in order, up to the cut.
    kept = [line for line in lines if len(line) == 99]
    assert kept == [f"{i:09d} " + "y" * 89 for i in range(len(kept))]
    assert len(kept) >= DEFAULT_LOG_CAP_BYTES // 100 - 1
