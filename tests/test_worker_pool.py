"""The warm worker pool runs jobs in real worker processes and survives what programs do."""

from __future__ import annotations

import asyncio
import json
import re
import textwrap
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import pytest_asyncio
from qiskit import QuantumCircuit
from qiskit.result import Result

from qruntime.execution import (
    OUT_OF_MEMORY,
    InterimResult,
    JobLimits,
    JobOutcome,
    JobRequest,
    LogOutput,
    PoolClosedError,
    ProgramRef,
    WorkerEvent,
    WorkerPool,
    WorkerStartError,
)
from qruntime.execution.capture import LogBuffer
from qruntime.execution.messages import ProtocolError, parse_worker_message
from qruntime.serialization import decode, encode
from qruntime.status import RAN_TOO_LONG, JobStatus

in_pool_loop = pytest.mark.asyncio(loop_scope="module")
WAIT = 60.0  # seconds any one job or condition may take before the test fails
MIB = 1024**2

BELL = QuantumCircuit(2)
BELL.h(0)
BELL.cx(0, 1)
BELL.measure_all()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def pool() -> AsyncIterator[WorkerPool]:
    """Two warm workers shared by the module; uploaded programs do not recycle them here."""
    async with WorkerPool(size=2, cancel_grace=1.0, recycle_after_uploaded=False) as pool:
        yield pool


class Events:
    """Collects a job's events."""

    def __init__(self) -> None:
        self.items: list[WorkerEvent] = []
        self.changed = asyncio.Event()

    def __call__(self, event: WorkerEvent) -> None:
        self.items.append(event)
        self.changed.set()

    @property
    def interim(self) -> list[Any]:
        return [decode(e.payload) for e in self.items if isinstance(e, InterimResult)]

    @property
    def log(self) -> str:
        return "".join(e.text for e in self.items if isinstance(e, LogOutput))

    async def wait_for_log(self, text: str) -> None:
        async with asyncio.timeout(WAIT):
            while text not in self.log:
                self.changed.clear()
                await self.changed.wait()


def builtin(program_id: str, inputs: dict[str, Any] | None = None, **kw: Any) -> JobRequest:
    return JobRequest(
        f"job-{uuid.uuid4().hex[:12]}",
        ProgramRef(program_id),
        encode(inputs or {}),
        kw.pop("backend", "ibmq_qasm_simulator"),
        **kw,
    )


def uploaded(source: str, params: str = "{}", **kw: Any) -> JobRequest:
    metadata = {"name": "test-program", "max_execution_time": 300}
    program = ProgramRef("test-program", textwrap.dedent(source), metadata)
    return JobRequest(f"job-{uuid.uuid4().hex[:12]}", program, params, "ibmq_qasm_simulator", **kw)


async def run(pool: WorkerPool, request: JobRequest, events: Events | None = None) -> JobOutcome:
    async with asyncio.timeout(WAIT):
        return await pool.run(request, events)


async def replaced(pool: WorkerPool, pid: int | None) -> None:
    """Wait until the pool is back to full strength without the worker ``pid``."""
    async with asyncio.timeout(WAIT):
        while pid in pool.worker_pids or pool.idle_count + pool.busy_count < pool.size:
            await asyncio.sleep(0.05)


@in_pool_loop
async def test_hello_world_sends_interim_results_in_order(pool: WorkerPool) -> None:
    events = Events()

    async def on_event(event: WorkerEvent) -> None:
        await asyncio.sleep(0.01)  # a slow consumer delays the job's end, never reorders
        events(event)

    async with asyncio.timeout(WAIT):
        outcome = await pool.run(builtin("hello-world", {"iterations": 3}), on_event)
    assert outcome.status is JobStatus.COMPLETED, outcome
    assert decode(outcome.result or "") == "All done!"
    assert [msg["iteration"] for msg in events.interim] == [0, 1, 2]
    assert [e.seq for e in events.items if isinstance(e, InterimResult)] == [0, 1, 2]
    assert outcome.start_latency is not None  # main was called


@in_pool_loop
async def test_circuit_runner_runs_a_bell_circuit(pool: WorkerPool) -> None:
    outcome = await run(pool, builtin("circuit-runner", {"circuits": BELL, "shots": 200}))
    assert outcome.status is JobStatus.COMPLETED, outcome
    counts = Result.from_dict(decode(outcome.result or "")).get_counts()
    assert sum(counts.values()) == 200
    assert set(counts) <= {"00", "11"}


@in_pool_loop
async def test_print_stderr_and_logging_reach_the_log(pool: WorkerPool) -> None:
    events = Events()
    request = uploaded(
        """
        import logging, sys

        def main(backend, user_messenger, **kwargs):
            print("printed", kwargs["word"])
            user_messenger.publish({"step": 1})
            sys.stderr.write("to stderr\\n")
            logging.getLogger("my.program").warning("logged %d", 42)
            return {"backend": str(backend.name)}
        """,
        json.dumps({"word": "hello"}),
    )
    outcome = await run(pool, request, events)
    assert outcome.status is JobStatus.COMPLETED, outcome
    assert decode(outcome.result or "") == {"backend": "ibmq_qasm_simulator"}
    assert "printed hello\n" in events.log
    assert "to stderr\n" in events.log
    assert "WARNING my.program: logged 42" in events.log
    # The print came before the publish, and so does its log event.
    kinds = [type(e) for e in events.items]
    assert kinds.index(InterimResult) > 0
    assert isinstance(events.items[0], LogOutput)


@in_pool_loop
async def test_log_output_is_capped_and_the_cut_marked(pool: WorkerPool) -> None:
    events = Events()
    request = uploaded(
        """
        def main(backend, user_messenger):
            for i in range(5000):
                print("line", i)
            return "done"
        """,
        limits=JobLimits(log_bytes=2000),
    )
    outcome = await run(pool, request, events)
    assert outcome.status is JobStatus.COMPLETED, outcome
    marker = "[qruntime: log output truncated at 2000 bytes]"
    assert events.log.count(marker) == 1
    assert len(events.log.replace(marker, "").encode()) <= 2002
    assert events.log.startswith("line 0\n")


@in_pool_loop
async def test_interim_results_past_the_limit_are_dropped_and_noted(pool: WorkerPool) -> None:
    events = Events()
    request = uploaded(
        """
        def main(backend, user_messenger):
            for i in range(10):
                user_messenger.publish(i)
            return "done"
        """,
        limits=JobLimits(interim_results=3),
    )
    outcome = await run(pool, request, events)
    assert outcome.status is JobStatus.COMPLETED, outcome
    assert events.interim == [0, 1, 2]
    assert "interim results beyond the first 3 dropped" in events.log


@in_pool_loop
async def test_a_failing_program_reports_its_traceback(pool: WorkerPool) -> None:
    request = uploaded(
        """
        def helper(x):
            return 1 / x

        def main(backend, user_messenger):
            return helper(0)
        """
    )
    outcome = await run(pool, request)
    assert outcome.status is JobStatus.FAILED
    assert outcome.error == "program 'test-program' failed: ZeroDivisionError: division by zero"
    assert 'File "program.py", line 6, in main' in outcome.traceback
    assert "return 1 / x" in outcome.traceback  # the source lines show, though it has no file
    assert "qruntime" not in outcome.traceback


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ('{"iterations": "three"}', "iterations"),
        ('{"iterations": {"__type__": "ndarray", "__value__": "not base64"}}', "iterations"),
        ("[1, 2]", "inputs"),
        ("{not json", "inputs"),
    ],
)
@in_pool_loop
async def test_bad_params_fail_naming_the_field(
    pool: WorkerPool, params: str, expected: str
) -> None:
    request = JobRequest(
        "job-" + uuid.uuid4().hex, ProgramRef("hello-world"), params, "simulator_mps"
    )
    outcome = await run(pool, request)
    assert outcome.status is JobStatus.FAILED
    assert expected in (outcome.error or "")
    assert outcome.traceback == ""
    assert outcome.start_latency is None  # main never ran


@in_pool_loop
async def test_an_unknown_backend_fails_the_job(pool: WorkerPool) -> None:
    outcome = await run(pool, builtin("hello-world", backend="ibmq_nowhere"))
    assert outcome.status is JobStatus.FAILED
    assert "No backend named 'ibmq_nowhere'" in (outcome.error or "")


LOOP_FOREVER = """
    import time

    def main(backend, user_messenger):
        print("looping", flush=True)
        while True:
            time.sleep(0.01)
    """


@in_pool_loop
async def test_cancel_stops_a_running_job_and_replaces_its_worker(pool: WorkerPool) -> None:
    events = Events()
    request = uploaded(LOOP_FOREVER)
    running = asyncio.create_task(pool.run(request, events))
    await events.wait_for_log("looping")
    assert await pool.cancel(request.job_id)
    async with asyncio.timeout(WAIT):
        outcome = await running
    assert outcome.status is JobStatus.CANCELLED
    assert outcome.reason is None
    await replaced(pool, outcome.worker_pid)
    assert (await run(pool, builtin("hello-world"))).status is JobStatus.COMPLETED
    assert not await pool.cancel(request.job_id)


@in_pool_loop
async def test_a_job_past_its_max_execution_time_ran_too_long(pool: WorkerPool) -> None:
    async with asyncio.timeout(WAIT):
        outcome = await pool.run(uploaded(LOOP_FOREVER), max_execution_time=0.5)
    assert outcome.status is JobStatus.CANCELLED
    assert outcome.reason == RAN_TOO_LONG
    await replaced(pool, outcome.worker_pid)


@pytest.mark.parametrize(
    ("death", "reason"),
    [
        ("os._exit(3)", "worker died: exited with code 3"),
        ("os.kill(os.getpid(), signal.SIGKILL)", "worker died: killed by signal 9 (SIGKILL)"),
        ("ctypes.string_at(0)", "worker died: killed by signal 11 (SIGSEGV)"),
    ],
)
@in_pool_loop
async def test_a_worker_that_dies_fails_its_job_and_is_replaced(
    pool: WorkerPool, death: str, reason: str
) -> None:
    events = Events()
    request = uploaded(
        f"""
        import ctypes, os, signal

        def main(backend, user_messenger):
            user_messenger.publish("before")
            {death}
        """
    )
    outcome = await run(pool, request, events)
    assert outcome.status is JobStatus.FAILED
    assert outcome.reason == reason
    assert events.interim == ["before"]  # what was sent before the death still arrives
    if "SIGSEGV" in reason:
        assert 'File "program.py", line 6 in main' in outcome.traceback  # faulthandler's dump
    await replaced(pool, outcome.worker_pid)
    assert (await run(pool, builtin("hello-world"))).status is JobStatus.COMPLETED


@in_pool_loop
async def test_a_worker_that_breaks_the_protocol_is_stopped(pool: WorkerPool) -> None:
    request = uploaded(
        """
        import os, struct, sys, time

        def main(backend, user_messenger):
            fd = int(sys.argv[sys.argv.index("--fd") + 1])
            os.write(fd, struct.pack("!I", 12) + b'{"type": 1}.')
            time.sleep(600)
        """
    )
    outcome = await run(pool, request)
    assert outcome.status is JobStatus.FAILED
    assert (outcome.reason or "").startswith("worker broke the protocol")
    await replaced(pool, outcome.worker_pid)


@in_pool_loop
async def test_workers_do_not_inherit_the_servers_secrets(pool: WorkerPool) -> None:
    request = uploaded(
        "import os\ndef main(backend, user_messenger):\n    return sorted(os.environ)\n"
    )
    outcome = await run(pool, request)
    names = decode(outcome.result or "")
    assert "PATH" in names
    assert "PYTEST_CURRENT_TEST" not in names  # set in this process, not passed on


@in_pool_loop
async def test_a_large_result_comes_through(pool: WorkerPool) -> None:
    request = uploaded('def main(backend, user_messenger):\n    return "x" * 20_000_000\n')
    outcome = await run(pool, request)
    assert outcome.status is JobStatus.COMPLETED
    assert len(decode(outcome.result or "")) == 20_000_000


@in_pool_loop
async def test_a_job_whose_caller_gives_up_frees_its_worker(pool: WorkerPool) -> None:
    await replaced(pool, None)
    events = Events()
    running = asyncio.create_task(pool.run(uploaded(LOOP_FOREVER), events))
    await events.wait_for_log("looping")
    pids = pool.worker_pids
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    async with asyncio.timeout(WAIT):
        while set(pool.worker_pids) >= set(pids) or pool.idle_count < pool.size:
            await asyncio.sleep(0.05)


@in_pool_loop
async def test_two_workers_run_two_jobs_at_once(pool: WorkerPool, tmp_path: Path) -> None:
    # Each job waits for the other's file: run one after the other, both would time out.
    source = """
        import pathlib, time

        def main(backend, user_messenger, mine, theirs):
            pathlib.Path(mine).touch()
            deadline = time.monotonic() + 30
            while not pathlib.Path(theirs).exists():
                if time.monotonic() > deadline:
                    raise TimeoutError("the other job never ran alongside")
                time.sleep(0.005)
            return "met"
        """
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    first = uploaded(source, json.dumps({"mine": a, "theirs": b}))
    second = uploaded(source, json.dumps({"mine": b, "theirs": a}))
    outcomes = await asyncio.gather(run(pool, first), run(pool, second))
    assert [o.status for o in outcomes] == [JobStatus.COMPLETED] * 2, outcomes
    assert outcomes[0].worker_pid != outcomes[1].worker_pid


@in_pool_loop
async def test_jobs_beyond_the_pool_size_wait_for_a_worker(pool: WorkerPool) -> None:
    await replaced(pool, None)
    requests = [builtin("hello-world") for _ in range(5)]
    outcomes = await asyncio.gather(*(run(pool, r) for r in requests))
    assert {o.status for o in outcomes} == {JobStatus.COMPLETED}
    assert pool.busy_count == 0
    assert pool.idle_count == 2


@in_pool_loop
async def test_a_job_waiting_for_a_worker_can_be_cancelled(pool: WorkerPool) -> None:
    await replaced(pool, None)
    blockers = [uploaded(LOOP_FOREVER) for _ in range(2)]
    running = [asyncio.create_task(pool.run(r)) for r in blockers]
    waiting = builtin("hello-world")
    queued = asyncio.create_task(pool.run(waiting))
    async with asyncio.timeout(WAIT):
        while pool.busy_count < 2:
            await asyncio.sleep(0.01)
    assert await pool.cancel(waiting.job_id, reason="no longer wanted")
    async with asyncio.timeout(WAIT):
        outcome = await queued
    assert outcome.status is JobStatus.CANCELLED
    assert outcome.worker_pid is None
    assert outcome.reason == "no longer wanted"
    for request in blockers:
        await pool.cancel(request.job_id)
    async with asyncio.timeout(WAIT):
        assert {o.status for o in await asyncio.gather(*running)} == {JobStatus.CANCELLED}
    await replaced(pool, None)


@in_pool_loop
async def test_uploaded_programs_can_get_a_fresh_worker_each(pool: WorkerPool) -> None:
    await replaced(pool, None)
    pool.recycle_after_uploaded = True
    try:
        outcome = await run(pool, uploaded("def main(backend, user_messenger):\n    return 1\n"))
        assert outcome.status is JobStatus.COMPLETED
        await replaced(pool, outcome.worker_pid)
    finally:
        pool.recycle_after_uploaded = False


@in_pool_loop
async def test_a_program_past_its_memory_limit_fails_clearly(pool: WorkerPool) -> None:
    # A warm worker maps much more than it uses (thread arenas); leave it room beyond that.
    mapped = max(psutil.Process(pid).memory_info().vms for pid in pool.worker_pids)
    limit_mib = mapped // MIB + 2048
    async with WorkerPool(size=1, memory_limit_bytes=limit_mib * MIB) as limited:
        request = uploaded(
            f"""
            def main(backend, user_messenger):
                hog = bytearray({limit_mib * MIB})
                return len(hog)
            """
        )
        outcome = await run(limited, request)
        assert outcome.status is JobStatus.FAILED
        assert outcome.reason == OUT_OF_MEMORY
        assert (
            outcome.error
            == f"program 'test-program' ran out of memory (the limit is {limit_mib} MiB)"
        )
        assert "MemoryError" in outcome.traceback
        await replaced(limited, outcome.worker_pid)  # its interpreter is not trusted again
        outcome = await run(limited, builtin("circuit-runner", {"circuits": BELL}))
        assert outcome.status is JobStatus.COMPLETED, outcome


async def test_a_worker_that_cannot_start_says_why() -> None:
    with pytest.raises(WorkerStartError, match="exited with status 1 while starting") as failure:
        await WorkerPool(size=1, memory_limit_bytes=64 * MIB, start_timeout=WAIT).start()
    pid = re.search(r"worker process (\d+) exited", str(failure.value))
    assert pid is not None
    assert not psutil.pid_exists(int(pid[1]))


@in_pool_loop
async def test_close_leaves_no_process_behind(pool: WorkerPool) -> None:
    await replaced(pool, None)  # the module's pool starts no process while this test runs
    closing = WorkerPool(size=2, cancel_grace=0.5)
    await closing.start()
    request = uploaded(
        """
        import subprocess, sys, time

        def main(backend, user_messenger):
            subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
            print("spawned", flush=True)
            time.sleep(600)
        """
    )
    events = Events()
    running = asyncio.create_task(closing.run(request, events))
    await events.wait_for_log("spawned")
    started = [psutil.Process(pid) for pid in closing.worker_pids]
    started += [child for worker in started for child in worker.children(recursive=True)]
    assert len(started) == 3

    await closing.close()

    with pytest.raises(PoolClosedError):
        await running
    with pytest.raises(PoolClosedError):
        await closing.run(builtin("hello-world"))
    assert [process for process in started if _alive(process)] == []
    children = psutil.Process().children(recursive=True)
    assert {child.pid for child in children if _alive(child)} <= set(pool.worker_pids)


def _alive(process: psutil.Process) -> bool:
    try:
        return bool(process.is_running() and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def test_log_buffer_sends_whole_lines_and_marks_the_cut_once() -> None:
    sent: list[str] = []
    buffer = LogBuffer(sent.append, cap_bytes=10)
    buffer.write("abc")
    assert sent == []
    buffer.write("d\nef")
    assert sent == ["abcd\n"]
    buffer.write("ghijkl\n")
    buffer.write("more")
    assert "".join(sent) == "abcd\nefghi\n[qruntime: log output truncated at 10 bytes]\n"
    buffer.close()
    buffer.write("after")
    assert "after" not in "".join(sent)


@pytest.mark.parametrize(
    "frame",
    [
        b"not json",
        b"[]",
        b'{"type": "shout"}',
        b'{"type": "interim", "job_id": "j", "seq": "0", "payload": "1"}',
        b'{"type": "interim", "job_id": "j", "seq": true, "payload": "1"}',
        b'{"type": "log", "job_id": "j"}',
        b'{"type": "result", "job_id": "j", "payload": "1", "extra": 1}',
    ],
)
def test_malformed_worker_messages_are_refused(frame: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_worker_message(frame)


def test_a_job_request_survives_the_wire() -> None:
    request = uploaded("def main(b, m):\n    pass\n", '{"x": 1}', limits=JobLimits(10, None))
    assert JobRequest.from_json(request.to_json()) == request
    assert parse_worker_message(InterimResult("j", 0, "[1]").to_json()) == InterimResult(
        "j", 0, "[1]"
    )
