"""Uploaded programs that attack the machine, run over HTTPS on a real `qruntime serve`.

Each attack fails inside the bubblewrap sandbox, its job ends with a clear reason, and the server
and other jobs carry on. Needs bubblewrap (CI installs it; set QRUNTIME_REQUIRE_SANDBOX=1 to fail
rather than skip where it is missing).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from qruntime import RuntimeProvider
from qruntime.client.errors import (
    NotAuthorizedError,
    RuntimeJobFailureError,
    RuntimeJobMaxTimeoutError,
)
from qruntime.client.job import RuntimeJob
from qruntime.execution.sandbox import Sandbox, SandboxUnavailable
from tests.conftest import create_user, qruntime_command, start_server

JOB_CPU_SECONDS = 5


def _sandbox_problem() -> str | None:
    try:
        Sandbox.detect()
    except SandboxUnavailable as exc:
        return str(exc)
    return None


_PROBLEM = _sandbox_problem()
if _PROBLEM and os.environ.get("QRUNTIME_REQUIRE_SANDBOX"):
    raise RuntimeError(f"QRUNTIME_REQUIRE_SANDBOX is set but there is no sandbox: {_PROBLEM}")
pytestmark = pytest.mark.skipif(_PROBLEM is not None, reason=f"no sandbox: {_PROBLEM}")


@dataclass
class Server:
    url: str
    data_dir: Path
    provider: RuntimeProvider
    secret: str
    """A value only the server's environment holds."""

    @property
    def port(self) -> int:
        port = urlsplit(self.url).port
        assert port is not None
        return port

    def run_program(self, source: str, max_execution_time: int = 300, **inputs: Any) -> RuntimeJob:
        """Upload ``source`` (``main`` indented as in a test) as a new program and run it."""
        name = f"attack-{secrets.token_hex(4)}"
        program_id = self.provider.runtime.upload_program(
            data=textwrap.dedent(source),
            metadata={"name": name, "max_execution_time": max_execution_time},
        )
        return self.provider.runtime.run(
            program_id, options={"backend_name": "ibmq_qasm_simulator"}, inputs=inputs
        )

    def assert_still_serving(self) -> None:
        """A built-in program still runs to completion, on a worker that is not broken."""
        job = self.provider.runtime.run(
            "circuit-runner",
            options={"backend_name": "ibmq_qasm_simulator"},
            inputs={"circuits": _bell_circuit(), "shots": 256},
        )
        counts = job.result(timeout=120)["results"][0]["data"]["counts"]
        assert sum(counts.values()) == 256


def _bell_circuit() -> Any:
    from qiskit import QuantumCircuit

    bell = QuantumCircuit(2)
    bell.h(0)
    bell.cx(0, 1)
    bell.measure_all()
    return bell


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("sandboxed")
    token = create_user(data_dir, "mallory", "evil/premium/main")
    secret = secrets.token_hex(16)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QRUNTIME_TEST_SERVER_SECRET", secret)  # the server has it; workers must not
        process, url = start_server(
            data_dir, extra=("--job-cpu-time", str(JOB_CPU_SECONDS), "--worker-memory", "6")
        )
    provider = RuntimeProvider(url, token, verify=data_dir / "tls" / "cert.pem")
    try:
        yield Server(url, data_dir, provider, secret)
    finally:
        provider.close()
        process.send_signal(2)
        process.wait(timeout=60)


def _failure(job: RuntimeJob) -> str:
    with pytest.raises(RuntimeJobFailureError) as failed:
        job.result(timeout=120)
    return str(failed.value)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (lambda s: s.data_dir / "qruntime.db", "No such file or directory"),
        (lambda s: s.data_dir / "tls" / "key.pem", "No such file or directory"),
        (lambda s: s.data_dir / "admin-token", "No such file or directory"),
        (lambda s: Path("/proc/1/environ"), "Permission denied"),
        (lambda s: Path("/etc/shadow"), "No such file or directory"),
    ],
    ids=["sqlite-file", "tls-key", "admin-token", "proc-1-environ", "etc-shadow"],
)
def test_reading_the_servers_files_fails(
    server: Server, target: Callable[[Server], Path], expected: str
) -> None:
    path = target(server)
    job = server.run_program(
        """
        def main(backend, user_messenger, path):
            with open(path, "rb") as file:
                return file.read().decode("latin-1")
        """,
        path=str(path),
    )
    error = _failure(job)
    assert expected in error
    assert str(path) in error
    assert path.name != "qruntime.db" or path.exists()  # it is there, just not in the sandbox
    server.assert_still_serving()


def test_the_environment_holds_nothing_of_the_servers(server: Server) -> None:
    job = server.run_program(
        """
        import os

        def main(backend, user_messenger):
            with open("/proc/self/environ", "rb") as file:
                return {"environ": file.read().decode(), "env": dict(os.environ)}
        """
    )
    seen = job.result(timeout=120)
    assert seen["env"]  # the program did read it
    assert server.secret not in repr(seen)
    assert "QRUNTIME_TEST_SERVER_SECRET" not in repr(seen)


def test_another_jobs_tmp_is_out_of_sight(server: Server) -> None:
    name = f"secret-{secrets.token_hex(4)}"
    writer = server.run_program(
        """
        import time

        def main(backend, user_messenger, name):
            with open(f"/tmp/{name}", "w") as file:
                file.write("the writer's secret")
            user_messenger.publish("written")
            time.sleep(120)
        """,
        name=name,
    )
    _wait_for(lambda: writer.interim_results() == ["written"], "the writer to write its file")
    reader = server.run_program(
        """
        import os

        def main(backend, user_messenger, name):
            print(sorted(os.listdir("/tmp")))
            with open(f"/tmp/{name}") as file:
                return file.read()
        """,
        name=name,
    )
    error = _failure(reader)
    assert "No such file or directory" in error
    assert name in error
    assert name not in reader.logs()  # not even listed
    writer.cancel()
    server.assert_still_serving()


@pytest.mark.parametrize(
    "address",
    [None, ("127.0.0.1", 5432), ("1.1.1.1", 443)],
    ids=["the-servers-port", "postgresql", "the-internet"],
)
def test_no_connection_leaves_the_sandbox(server: Server, address: tuple[str, int] | None) -> None:
    host, port = address or ("127.0.0.1", server.port)
    job = server.run_program(
        """
        import socket

        def main(backend, user_messenger, host, port):
            socket.create_connection((host, port), timeout=5).close()
            return "connected"
        """,
        host=host,
        port=port,
    )
    error = _failure(job)
    assert "ConnectionRefusedError" in error or "Network is unreachable" in error
    server.assert_still_serving()


def test_a_name_lookup_finds_nothing(server: Server) -> None:
    job = server.run_program(
        """
        import socket

        def main(backend, user_messenger):
            return socket.getaddrinfo("pypi.org", 443)
        """
    )
    assert "gaierror" in _failure(job)


def test_a_fork_bomb_hits_the_process_limit(server: Server) -> None:
    job = server.run_program(
        """
        import os
        import time

        def main(backend, user_messenger):
            while True:
                if os.fork() == 0:
                    while True:
                        time.sleep(1)
        """
    )
    error = _failure(job)
    assert "BlockingIOError" in error
    assert "Resource temporarily unavailable" in error
    server.assert_still_serving()
    # The bomb's processes went with its worker.
    _wait_for(lambda: _processes_of(65534 if os.geteuid() == 0 else os.geteuid()) < 50, "cleanup")


def test_allocating_100_gb_fails_with_out_of_memory(server: Server) -> None:
    job = server.run_program(
        """
        def main(backend, user_messenger):
            hoard = bytearray(100 * 1024**3)
            return len(hoard)
        """
    )
    assert "ran out of memory" in _failure(job)
    server.assert_still_serving()


@pytest.mark.parametrize("path", ["/evil", "/usr/lib/evil", "/root/evil"])
def test_writing_outside_tmp_fails(server: Server, path: str) -> None:
    job = server.run_program(
        """
        def main(backend, user_messenger, path):
            with open(path, "w") as file:
                file.write("owned")
        """,
        path=path,
    )
    error = _failure(job)
    assert "Permission denied" in error or "Read-only file system" in error
    assert not Path(path).exists()
    server.assert_still_serving()


def test_a_busy_loop_meets_the_cpu_time_limit(server: Server) -> None:
    job = server.run_program(
        """
        def main(backend, user_messenger):
            while True:
                pass
        """
    )
    error = _failure(job)
    assert f"ran past its CPU-time limit ({JOB_CPU_SECONDS} s)" in error
    server.assert_still_serving()


def test_ignoring_the_cpu_signal_does_not_help(server: Server) -> None:
    job = server.run_program(
        """
        import signal

        def main(backend, user_messenger):
            signal.signal(signal.SIGXCPU, signal.SIG_IGN)
            while True:
                pass
        """
    )
    error = _failure(job)
    assert "killed by signal 9 (SIGKILL)" in error
    server.assert_still_serving()


def test_running_past_the_max_execution_time_is_cancelled(server: Server) -> None:
    job = server.run_program(
        """
        import time

        def main(backend, user_messenger):
            time.sleep(600)
        """,
        max_execution_time=3,
    )
    with pytest.raises(RuntimeJobMaxTimeoutError):
        job.result(timeout=120)
    server.assert_still_serving()


def test_serve_refuses_uploaded_programs_without_bubblewrap(tmp_path: Path) -> None:
    """Without bwrap on PATH, uploaded programs are refused unless --allow-unsandboxed."""
    with _served_without_bubblewrap(tmp_path) as provider:
        program_id = provider.runtime.upload_program(
            data="def main(backend, user_messenger):\n    return 1\n",
            metadata={"name": "harmless"},
        )
        with pytest.raises(NotAuthorizedError) as refused:
            provider.runtime.run(program_id, options={"backend_name": "ibmq_qasm_simulator"})
        assert refused.value.status_code == 403
        assert "bubblewrap is not installed" in str(refused.value)
        assert "--allow-unsandboxed" in str(refused.value)
        hello = provider.runtime.run("hello-world", options={"backend_name": "ibmq_qasm_simulator"})
        assert hello.result(timeout=120) == "All done!"


@contextlib.contextmanager
def _served_without_bubblewrap(data_dir: Path, *extra: str) -> Iterator[RuntimeProvider]:
    """A user's provider on a server (one worker) whose PATH holds only this Python's scripts:
    no bwrap. The server is stopped on leaving."""
    token = create_user(data_dir, "alice", "test/premium/main")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", str(Path(qruntime_command()[0]).parent))
        assert shutil.which("bwrap") is None
        process, url = start_server(data_dir, workers=1, extra=extra)
    try:
        with RuntimeProvider(url, token, verify=data_dir / "tls" / "cert.pem") as provider:
            yield provider
    finally:
        process.send_signal(2)
        process.wait(timeout=60)


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _processes_of(uid: int) -> int:
    count = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            lines = status.read_text().splitlines()
        except OSError:
            continue  # it ended meanwhile
        uids = next((line.split()[1:] for line in lines if line.startswith("Uid:")), [])
        count += str(uid) in uids[:1]
    return count


def test_allow_unsandboxed_runs_uploaded_programs_unconfined(tmp_path: Path) -> None:
    """--allow-unsandboxed: the operator's choice, announced in red; the program then runs."""
    with _served_without_bubblewrap(tmp_path, "--allow-unsandboxed") as provider:
        program_id = provider.runtime.upload_program(
            data="import os\ndef main(backend, user_messenger):\n    return os.getuid()\n",
            metadata={"name": "unconfined"},
        )
        job = provider.runtime.run(program_id, options={"backend_name": "ibmq_qasm_simulator"})
        assert job.result(timeout=120) == os.getuid()
    assert "NO SANDBOX" in (tmp_path / "serve.log").read_text()
