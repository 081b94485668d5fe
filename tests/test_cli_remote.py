"""The `qruntime` commands that work with a server: real `qruntime serve`, real processes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LiveServer, qruntime_command

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

GREETER = """\
import time

def main(backend, user_messenger, **kwargs):
    print("hello from the greeter")
    for step in range(kwargs.get("steps", 2)):
        user_messenger.publish({"step": step})
        time.sleep(kwargs.get("pause", 0))
    return {"steps": kwargs.get("steps", 2)}
"""
HelloRun = tuple[str, subprocess.CompletedProcess[str]]
"""The job id of a `qruntime run hello-world`, and its finished process."""
BROKEN = "def main(backend, user_messenger, **kwargs):\n    raise KeyError('gone')\n"


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without the user's own qruntime settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QRUNTIME_")}
    return {**env, **extra}


def qruntime(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*qruntime_command(), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or clean_env(),
        check=False,
    )


def on(server: LiveServer, *args: str, token: str | None = None) -> list[str]:
    """``args`` with the options that reach ``server`` as alice (or the given token)."""
    return [*args, "--url", server.url, "--token", token or server.token]


def trusted(server: LiveServer) -> dict[str, str]:
    """An environment whose data dir is the server's: its certificate is trusted."""
    return clean_env(QRUNTIME_DATA_DIR=str(server.data_dir))


def assert_clean_error(proc: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert "qruntime/cli" not in proc.stderr, proc.stderr  # no traceback through the command
    for word in words:
        assert word in proc.stderr, proc.stderr


def interim_results(stdout: str) -> list[Any]:
    lines = [line for line in stdout.splitlines() if line.startswith("interim result:")]
    return [json.loads(line.split(":", 1)[1]) for line in lines]


def write_program(directory: Path, name: str, source: str) -> tuple[Path, Path]:
    program, metadata = directory / f"{name}.py", directory / f"{name}.json"
    program.write_text(source)
    metadata.write_text(json.dumps({"name": name, "max_execution_time": 60}))
    return program, metadata


@dataclass
class Uploaded:
    greeter: str
    broken: str


@pytest.fixture(scope="module")
def uploaded(live_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Uploaded:
    """Alice's programs: one that prints and publishes, one that fails."""
    directory = tmp_path_factory.mktemp("programs")
    ids = []
    for name, source in (("greeter", GREETER), ("broken", BROKEN)):
        program, metadata = write_program(directory, name, source)
        proc = qruntime(
            "upload", str(program), str(metadata), "--public", "--url", live_server.url,
            "--token", live_server.token, "--cacert", str(live_server.certfile),
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        ids.append(proc.stdout.strip().splitlines()[-1])
    return Uploaded(*ids)


@pytest.fixture(scope="module")
def hello_run(live_server: LiveServer) -> HelloRun:
    """`qruntime run hello-world` on the server: its job id and the finished process."""
    proc = qruntime(
        *on(live_server, "run", "hello-world", "-i", "iterations=3"), env=trusted(live_server)
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()[0].removeprefix("job "), proc


def test_run_prints_the_job_then_interim_results_in_order_then_the_result(
    hello_run: HelloRun,
) -> None:
    job_id, proc = hello_run
    lines = proc.stdout.splitlines()
    assert lines[0] == f"job {job_id}"
    assert [result["iteration"] for result in interim_results(proc.stdout)] == [0, 1, 2]
    assert lines[-1] == "All done!"


def test_circuit_runner_on_the_bogota_emulator(live_server: LiveServer) -> None:
    args = on(
        live_server, "run", "circuit-runner", "--backend", "ibmq_bogota",
        "--circuit", str(EXAMPLES / "ghz.qasm"), "--json", "--cacert", str(live_server.certfile),
    )  # fmt: skip
    proc = qruntime(*args)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.startswith("job ")  # with --json, stdout holds the result alone
    result = json.loads(proc.stdout)
    assert result["backend_name"] == "ibmq_bogota"
    counts = result["results"][0]["data"]["counts"]
    assert set(counts) - {"0x0", "0x1f"}  # the emulator's noise


def test_programs_lists_the_built_in_and_uploaded_ones(
    live_server: LiveServer, uploaded: Uploaded
) -> None:
    proc = qruntime(*on(live_server, "programs"), env=trusted(live_server))
    assert proc.returncode == 0, proc.stderr
    for program_id in ("hello-world", "circuit-runner", uploaded.greeter, uploaded.broken):
        assert program_id in proc.stdout


def test_jobs_lists_the_jobs_just_run(live_server: LiveServer, hello_run: HelloRun) -> None:
    job_id, _ = hello_run
    listed = qruntime(*on(live_server, "jobs", "--limit", "50"), env=trusted(live_server))
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if job_id in line)
    assert "hello-world" in row
    assert "ibmq_qasm_simulator" in row
    assert "DONE" in row
    pending = qruntime(*on(live_server, "jobs", "--pending"), env=trusted(live_server))
    assert pending.returncode == 0, pending.stderr
    assert job_id not in pending.stdout
    other = qruntime(
        *on(live_server, "jobs", "--program", "circuit-runner"), env=trusted(live_server)
    )
    assert other.returncode == 0, other.stderr
    assert job_id not in other.stdout


def test_job_status_result_logs_and_follow(live_server: LiveServer, uploaded: Uploaded) -> None:
    env = trusted(live_server)
    run = qruntime(*on(live_server, "run", uploaded.greeter, "-i", "steps=3"), env=env)
    assert run.returncode == 0, run.stderr
    job_id = run.stdout.splitlines()[0].removeprefix("job ")

    status = qruntime(*on(live_server, "job", job_id), env=env)
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith(f"job {job_id}: DONE")
    assert f"program: {uploaded.greeter}" in status.stdout

    result = qruntime(*on(live_server, "job", job_id, "--result", "--json"), env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"steps": 3}

    logs = qruntime(*on(live_server, "job", job_id, "--logs"), env=env)
    assert logs.returncode == 0, logs.stderr
    assert "hello from the greeter" in logs.stdout

    follow = qruntime(*on(live_server, "job", job_id, "--follow"), env=env)
    assert follow.returncode == 0, follow.stderr
    assert interim_results(follow.stdout) == [{"step": 0}, {"step": 1}, {"step": 2}]
    assert '"steps": 3' in follow.stdout


def test_follow_a_running_job_from_a_second_process(
    live_server: LiveServer, uploaded: Uploaded
) -> None:
    env = trusted(live_server)
    args = on(live_server, "run", uploaded.greeter, "-i", "steps=4", "-i", "pause=0.5")
    with subprocess.Popen(
        [*qruntime_command(), *args], stdout=subprocess.PIPE, text=True, env=env
    ) as running:
        assert running.stdout is not None
        job_id = running.stdout.readline().strip().removeprefix("job ")
        follow = qruntime(*on(live_server, "job", job_id, "--follow"), env=env)
        rest, _ = running.communicate(timeout=120)
    assert running.returncode == 0
    expected = [{"step": step} for step in range(4)]
    assert interim_results(rest) == expected
    assert follow.returncode == 0, follow.stderr
    assert interim_results(follow.stdout) == expected
    assert follow.stdout.rstrip().endswith("}")


def test_a_failing_program_exits_with_1_and_its_error(
    live_server: LiveServer, uploaded: Uploaded
) -> None:
    proc = qruntime(*on(live_server, "run", uploaded.broken), env=trusted(live_server))
    assert_clean_error(proc, 1, "KeyError", "gone", "failed")
    job_id = proc.stdout.splitlines()[0].removeprefix("job ")
    status = qruntime(*on(live_server, "job", job_id), env=trusted(live_server))
    assert status.returncode == 0
    assert "ERROR; reason:" in status.stdout
    assert "KeyError" in status.stdout


def test_a_bad_token_is_a_clean_error(live_server: LiveServer) -> None:
    proc = qruntime(*on(live_server, "jobs", token="not-a-token"), env=trusted(live_server))
    assert_clean_error(proc, 2, "the server refused the token", "--token")


def test_an_unknown_job_is_a_clean_error(live_server: LiveServer) -> None:
    proc = qruntime(*on(live_server, "job", "no-such-job", "--result"), env=trusted(live_server))
    assert_clean_error(proc, 2, "no-such-job")


def test_the_open_plan_may_not_upload(live_server: LiveServer, tmp_path: Path) -> None:
    program, metadata = write_program(tmp_path, "mine", GREETER)
    args = on(live_server, "upload", str(program), str(metadata), token=live_server.open_token)
    proc = qruntime(*args, env=trusted(live_server))
    assert_clean_error(proc, 2, "the server did not allow it")


def test_token_and_certificate_come_from_the_data_dir(
    live_server: LiveServer, tmp_path: Path, hello_run: HelloRun
) -> None:
    # A data dir as `qruntime serve` leaves it for its operator: admin-token and tls/cert.pem.
    (tmp_path / "tls").mkdir()
    shutil.copy(live_server.certfile, tmp_path / "tls" / "cert.pem")
    (tmp_path / "admin-token").write_text(live_server.token + "\n")
    proc = qruntime("jobs", "--url", live_server.url, "--data-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert hello_run[0] in proc.stdout
    without = qruntime("jobs", "--url", live_server.url, "--data-dir", str(tmp_path / "tls"))
    assert_clean_error(without, 2, "no API token", "--token")


def test_an_untrusted_certificate_says_how_to_trust_it(live_server: LiveServer) -> None:
    proc = qruntime(*on(live_server, "jobs", "--verify"))
    assert_clean_error(proc, 2, "not trusted", "--cacert")
