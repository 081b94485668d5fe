"""What the bubblewrap sandbox costs a job, against the same worker pool unconfined.

Two pools of one worker each, one plain and one in the sandbox (:mod:`qruntime.execution.sandbox`),
side by side in this process:

1. Start: seconds from starting a worker to its ``ready`` (imports and a warm-up circuit), the
   median of ``--starts`` starts per side.
2. A job: ``hello-world`` (one interim result) and ``circuit-runner`` on a Bell circuit at 1024
   shots, each ``--jobs`` times per side, alternating between the sides, so drift on a shared
   machine affects both alike. The figure is the time ``WorkerPool.run`` takes: hand-over to the
   warm worker, the job, and its events and result back.

    python benchmarks/sandbox_overhead.py [--jobs 200] [--starts 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

from qruntime.execution.messages import JobRequest, ProgramRef
from qruntime.execution.pool import WorkerPool
from qruntime.execution.process import WorkerOptions, WorkerProcess
from qruntime.execution.sandbox import Sandbox

BELL = (
    'OPENQASM 2.0; include "qelib1.inc"; qreg q[2]; creg c[2]; '
    "h q[0]; cx q[0],q[1]; measure q -> c;"
)


def _circuit_runner_params() -> str:
    from qiskit import QuantumCircuit

    from qruntime.serialization import encode

    return encode({"circuits": QuantumCircuit.from_qasm_str(BELL), "shots": 1024})


async def _start_seconds(options: WorkerOptions, starts: int) -> float:
    times = []
    for _ in range(starts):
        start = time.perf_counter()
        worker = await WorkerProcess.start(options)
        times.append(time.perf_counter() - start)
        await worker.stop(grace=1)
    return statistics.median(times)


async def _job_seconds(
    pools: dict[str, WorkerPool], program: str, params: str, jobs: int
) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in pools}
    for index in range(jobs):
        for name, pool in pools.items():
            request = JobRequest(f"{name}-{program}-{index}", ProgramRef(program), params,
                                 "ibmq_qasm_simulator")  # fmt: skip
            start = time.perf_counter()
            outcome = await pool.run(request, max_execution_time=60)
            times[name].append(time.perf_counter() - start)
            assert outcome.result is not None, outcome
    return times


def _row(label: str, plain: float, sandboxed: float) -> str:
    return f"{label:<44} {plain * 1e3:>9.2f} {sandboxed * 1e3:>11.2f} {sandboxed / plain:>7.2f}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=200, help="jobs per program and side")
    parser.add_argument("--starts", type=int, default=5, help="worker starts per side")
    args = parser.parse_args()

    sandbox = Sandbox.detect()
    who = f"uid {sandbox.user[0]}" if sandbox.user else "this user"
    print(f"sandbox: {sandbox.bwrap}, workers run as {who}")
    starts = {
        "plain": await _start_seconds(WorkerOptions(), args.starts),
        "sandboxed": await _start_seconds(WorkerOptions(sandbox=sandbox), args.starts),
    }
    pools = {"plain": WorkerPool(1), "sandboxed": WorkerPool(1, sandbox=sandbox)}
    await asyncio.gather(*(pool.start() for pool in pools.values()))
    try:
        cases: list[tuple[str, str, str]] = [
            ("hello-world, 1 iteration", "hello-world", json.dumps({"iterations": 1})),
            ("circuit-runner, Bell, 1024 shots", "circuit-runner", _circuit_runner_params()),
        ]
        results = {}
        for label, program, params in cases:
            results[label] = await _job_seconds(pools, program, params, args.jobs)
    finally:
        await asyncio.gather(*(pool.close() for pool in pools.values()))

    print(f"\n{'milliseconds (median)':<44} {'plain':>9} {'sandboxed':>11} {'ratio':>7}")
    label = f"worker start to ready ({args.starts} starts)"
    print(_row(label, starts["plain"], starts["sandboxed"]))
    for label, times in results.items():
        plain, boxed = (statistics.median(times[name]) for name in ("plain", "sandboxed"))
        print(_row(f"{label} ({args.jobs} jobs)", plain, boxed))
        p99 = {name: statistics.quantiles(values, n=100)[98] for name, values in times.items()}
        print(_row("  p99", p99["plain"], p99["sandboxed"]))


if __name__ == "__main__":
    asyncio.run(main())
