"""The bubblewrap sandbox and a worker's confinement, below the server (see tests/security for the
attacks over HTTPS)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

import qruntime.service
from qruntime.cli import app as cli_app
from qruntime.execution.messages import JobLimits, JobRequest, ProgramRef
from qruntime.execution.outcome import CPU_TIME_EXCEEDED
from qruntime.execution.pool import WorkerPool
from qruntime.execution.sandbox import Sandbox, SandboxUnavailable, _python_paths
from qruntime.settings import Settings
from qruntime.status import JobStatus


def _sandbox() -> Sandbox | None:
    try:
        return Sandbox.detect()
    except SandboxUnavailable:
        return None


SANDBOX = _sandbox()
needs_sandbox = pytest.mark.skipif(SANDBOX is None, reason="bubblewrap cannot make a sandbox here")


def _run_inside(sandbox: Sandbox, source: str) -> subprocess.CompletedProcess[str]:
    code = "import sys\nfrom qruntime.execution.confinement import confine\n"
    code += "confine(sys.argv[1:])\n" + textwrap.dedent(source)
    command = sandbox.wrap([sys.executable, "-c", code, *sandbox.worker_arguments()])
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_without_bwrap_on_the_path_there_is_no_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    with pytest.raises(SandboxUnavailable, match="bubblewrap is not installed"):
        Sandbox.detect()


@needs_sandbox
def test_hidden_paths_inside_readable_ones_stay_hidden(tmp_path: Path) -> None:
    assert SANDBOX is not None
    shared = tmp_path / "shared"
    (shared / "data").mkdir(parents=True)
    (shared / "visible.txt").write_text("for all")
    (shared / "data" / "qruntime.db").write_text("rows")
    (shared / "key.pem").write_text("PRIVATE KEY")
    for path in (shared, shared / "data"):
        path.chmod(0o755)
    for path in (shared / "visible.txt", shared / "data" / "qruntime.db", shared / "key.pem"):
        path.chmod(0o644)
    sandbox = dataclasses.replace(
        SANDBOX,
        readable=(*SANDBOX.readable, shared),
        hidden=(shared / "data", shared / "key.pem"),
    )
    done = _run_inside(
        sandbox,
        f"""
        import os
        base = {str(shared)!r}
        print(open(base + "/visible.txt").read())
        print(sorted(os.listdir(base + "/data")))
        print(repr(open(base + "/key.pem").read()))
        """,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["for all", "[]", "'hidden by the qruntime sandbox\\n'"]


@needs_sandbox
def test_a_sandboxed_process_is_confined() -> None:
    assert SANDBOX is not None
    done = _run_inside(
        SANDBOX,
        """
        import os, resource, socket
        print(os.getuid() != 0)
        print(resource.getrlimit(resource.RLIMIT_NPROC)[0])
        print(open("/proc/self/status").read().split("CapEff:")[1].split()[0])
        print(sorted(int(pid) for pid in os.listdir("/proc") if pid.isdigit())[-1] < 100)
        try:
            socket.create_connection(("127.0.0.1", 22), timeout=2)
        except OSError as exc:
            print(type(exc).__name__)
        """,
    )
    assert done.returncode == 0, done.stderr
    not_root, nproc, capabilities, few_pids, connection = done.stdout.split()
    assert not_root == "True"
    assert int(nproc) == SANDBOX.max_processes
    assert int(capabilities, 16) == 0
    assert few_pids == "True"  # its own process ids: the host's are out of sight
    assert connection == "ConnectionRefusedError"


def test_the_cpu_time_limit_raises_in_the_main_thread() -> None:
    code = textwrap.dedent(
        """
        from qruntime.execution.confinement import CpuTimeExceeded, cpu_time_limit
        try:
            with cpu_time_limit(1, final=False):
                while True:
                    pass
        except CpuTimeExceeded:
            print("stopped")
        with cpu_time_limit(None, final=False):
            print("no limit")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stdout.split() == ["stopped", "no", "limit"], done.stderr


def _uploaded(source: str) -> ProgramRef:
    metadata = {"name": "uploaded", "max_execution_time": 300, "spec": {}}
    return ProgramRef(program_id="uploaded", source=textwrap.dedent(source), metadata=metadata)


async def test_a_refusing_pool_fails_uploaded_programs_and_runs_builtin_ones() -> None:
    async with WorkerPool(1, uploads_refused="no sandbox here") as pool:
        refused = await pool.run(
            JobRequest("a", _uploaded("def main(backend, user_messenger):\n    return 1\n"), "{}",
                       "ibmq_qasm_simulator"),
        )  # fmt: skip
        assert refused.status is JobStatus.FAILED
        assert refused.error == "uploaded programs cannot run on this server: no sandbox here"
        hello = await pool.run(
            JobRequest("b", ProgramRef("hello-world"), '{"iterations": 1}', "ibmq_qasm_simulator")
        )
        assert hello.status is JobStatus.COMPLETED


@needs_sandbox
async def test_a_sandboxed_pool_stops_a_job_at_its_cpu_time() -> None:
    busy = _uploaded("def main(backend, user_messenger):\n    while True:\n        pass\n")
    async with WorkerPool(1, sandbox=SANDBOX) as pool:
        request = JobRequest("c", busy, "{}", "ibmq_qasm_simulator", JobLimits(cpu_seconds=2))
        outcome = await pool.run(request, max_execution_time=120)
        assert outcome.status is JobStatus.FAILED
        assert outcome.reason == CPU_TIME_EXCEEDED
        assert outcome.error == "program 'uploaded' ran past its CPU-time limit (2 s)"
        hello = await pool.run(
            JobRequest("d", ProgramRef("hello-world"), '{"iterations": 1}', "ibmq_qasm_simulator")
        )
        assert hello.status is JobStatus.COMPLETED
        assert hello.worker_pid != outcome.worker_pid  # its worker was replaced


@needs_sandbox
async def test_a_worker_killed_inside_the_sandbox_reports_the_signal() -> None:
    suicide = _uploaded(
        """
        import os, signal

        def main(backend, user_messenger):
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    async with WorkerPool(1, sandbox=SANDBOX) as pool:
        outcome = await pool.run(JobRequest("e", suicide, "{}", "ibmq_qasm_simulator"))
    assert outcome.status is JobStatus.FAILED
    assert outcome.reason == "worker died: killed by signal 9 (SIGKILL)"


def test_the_pool_gives_a_job_its_cpu_allowance() -> None:
    pool = WorkerPool(1)
    request = JobRequest("f", ProgramRef("hello-world"), "{}", "ibmq_qasm_simulator")
    derived = pool._with_cpu_limit(request, max_execution_time=10)
    assert derived.limits.cpu_seconds == 10 * (os.cpu_count() or 1)
    pool.job_cpu_seconds = 3
    assert pool._with_cpu_limit(request, 10).limits.cpu_seconds == 3
    given = dataclasses.replace(request, limits=JobLimits(cpu_seconds=1))
    assert pool._with_cpu_limit(given, 10).limits.cpu_seconds == 1


def test_only_a_job_whose_worker_is_replaced_after_it_may_get_the_hard_cpu_limit() -> None:
    program = _uploaded("def main(b, m):\n    pass\n")
    uploaded = JobRequest("g", program, "{}", "ibmq_qasm_simulator")
    built_in = JobRequest("h", ProgramRef("hello-world"), "{}", "ibmq_qasm_simulator")
    assert WorkerPool(1)._with_cpu_limit(uploaded, 10).limits.last_job
    assert not WorkerPool(1)._with_cpu_limit(built_in, 10).limits.last_job
    keeps_workers = WorkerPool(1, recycle_after_uploaded=False)
    assert not keeps_workers._with_cpu_limit(uploaded, 10).limits.last_job
    sent = WorkerPool(1)._with_cpu_limit(uploaded, 10)
    assert JobRequest.from_json(sent.to_json()) == sent  # the worker reads what the pool meant


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ((), {"allow_unsandboxed": False, "worker_memory": 8 * 1024**3, "job_cpu_time": None}),
        (
            ("--allow-unsandboxed", "--worker-memory", "0", "--job-cpu-time", "30"),
            {"allow_unsandboxed": True, "worker_memory": 0, "job_cpu_time": 30.0},
        ),
        (
            ("--worker-memory", "1.5", "--worker-processes", "64", "--access-token-ttl", "60"),
            {"worker_memory": 3 * 2**29, "worker_processes": 64, "access_token_ttl": 60},
        ),
    ],
)
def test_serve_options_set_the_confinement(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    options: tuple[str, ...],
    expected: dict[str, object],
) -> None:
    seen: list[Settings] = []
    monkeypatch.setattr(qruntime.service, "serve", lambda settings, announce: seen.append(settings))
    done = CliRunner().invoke(cli_app, ["serve", "--data-dir", str(tmp_path), *options])
    assert done.exit_code == 0, done.output
    (settings,) = seen
    assert {name: getattr(settings, name) for name in expected} == expected


def test_python_paths_under_tmp_are_readable_but_tmp_itself_is_not(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A checkout (and its virtual environment) under /tmp is bound inside the sandbox's own
    /tmp; /tmp itself (a script's directory, say) never covers it."""
    venv = tmp_path / "checkout" / ".venv" / "lib"
    venv.mkdir(parents=True)
    monkeypatch.setattr(sys, "path", [str(tmp_path), str(venv), "/tmp", "/proc/self"])
    readable = _python_paths()
    assert venv.resolve() in readable
    assert Path("/tmp") not in readable
    assert not any(path.is_relative_to("/proc") for path in readable)
