"""The service over HTTPS on loopback: job latency, throughput, start-up and memory.

Starts a real `qruntime serve` (temporary data dir, TLS; SQLite, or a new PostgreSQL database
with --postgres) and measures:
  (a) a trivial job — circuit-runner, a Bell circuit, 1024 shots, ibmq_qasm_simulator — from
      submit to result through ``RuntimeProvider`` (POST /runtime/jobs, then the job's WebSocket,
      whose close says the job completed and whose last message is the result): p50 and p99 over
      N jobs, next to the in-process floor (the same circuit on Aer with a cached pass manager,
      in this process);
  (b) M such jobs from C client processes, each submitting its share and then waiting for each
      result: jobs per second, that every job completed, and the server's CPU time per job;
  (c) from starting the process to /health answering 200;
  (d) resident memory of the server process and of one warm worker.

    python benchmarks/service.py [--jobs 200] [--burst 2000] [--clients 8] [--workers 2]
                                 [--postgres postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import psycopg
from psycopg import sql
from qiskit import QuantumCircuit
from qiskit.transpiler.preset_passmanagers import generate_preset_pass_manager
from sqlalchemy import make_url

from qruntime import RuntimeProvider
from qruntime.backends import default_catalogue
from qruntime.service import wait_until_healthy

SIMULATOR = {"backend_name": "ibmq_qasm_simulator"}


def bell() -> QuantumCircuit:
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure_all()
    return circuit


@contextlib.contextmanager
def fresh_postgres_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the PostgreSQL server of ``server_url``, dropped afterwards."""
    url = make_url(server_url).set(drivername="postgresql")
    name = f"qruntime_bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
    try:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    finally:
        admin.close()


def start(
    data_dir: Path, workers: int, database_url: str | None = None
) -> tuple[subprocess.Popen[str], str, float]:
    qruntime = Path(sys.executable).parent / "qruntime"
    database = ["--database-url", database_url] if database_url else []
    begin = time.perf_counter()
    process = subprocess.Popen(
        [
            str(qruntime),
            "serve",
            "--port",
            "0",
            "--data-dir",
            str(data_dir),
            "--workers",
            str(workers),
            *database,
        ],
        stdout=subprocess.PIPE,
        stderr=open(data_dir / "serve.log", "w"),  # noqa: SIM115
        text=True,
    )
    assert process.stdout is not None
    url = ""
    for line in process.stdout:
        if "listening on" in line:
            url = line.split("listening on", 1)[1].strip()
            break
    threading.Thread(target=process.stdout.read, daemon=True).start()
    wait_until_healthy(url, data_dir / "tls" / "cert.pem", 300, lambda: process.poll() is None)
    return process, url, time.perf_counter() - begin


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def latency(provider: RuntimeProvider, jobs: int) -> list[float]:
    circuit = bell()
    times = []
    for _ in range(jobs):
        begin = time.perf_counter()
        job = provider.runtime.run(
            "circuit-runner", inputs={"circuits": circuit}, options=SIMULATOR
        )
        result = job.result(timeout=60)
        times.append(time.perf_counter() - begin)
        assert result["results"][0]["shots"] == 1024
    return times


def floor(jobs: int) -> list[float]:
    backend = default_catalogue().get("ibmq_qasm_simulator")
    manager = generate_preset_pass_manager(optimization_level=1, backend=backend)
    circuit = bell()
    times = []
    for _ in range(jobs):
        begin = time.perf_counter()
        backend.wrapped.run(manager.run(circuit), shots=1024).result()
        times.append(time.perf_counter() - begin)
    return times


def _client(url: str, token: str, cafile: Path, jobs: int, ready: Any, go: Any, out: Any) -> None:
    """One client process: connect, then on the signal submit its jobs and wait for each."""
    circuit = bell()
    done = failed = 0
    with RuntimeProvider(url=url, token=token, verify=cafile) as provider:
        provider.runtime.run("circuit-runner", inputs={"circuits": circuit}, options=SIMULATOR)
        ready.release()
        go.wait()
        submitted = [
            provider.runtime.run("circuit-runner", inputs={"circuits": circuit}, options=SIMULATOR)
            for _ in range(jobs)
        ]
        for job in submitted:
            try:
                job.result(timeout=600)
                done += 1
            except Exception:
                failed += 1
    out.put((done, failed))


def burst(
    url: str, token: str, cafile: Path, total: int, clients: int, server: psutil.Process
) -> tuple[float, int, int, float]:
    """``total`` jobs from ``clients`` client processes, each submitting its share and then
    waiting for each result: (seconds, completed, failed, server CPU seconds per job)."""
    context = multiprocessing.get_context("spawn")
    ready, go, out = context.Semaphore(0), context.Event(), context.Queue()
    processes = [
        context.Process(target=_client, args=(url, token, cafile, total // clients, ready, go, out))
        for _ in range(clients)
    ]
    for process in processes:
        process.start()
    for _ in processes:
        ready.acquire()
    cpu_before = sum(server.cpu_times()[:2])
    begin = time.perf_counter()
    go.set()
    outcomes = [out.get() for _ in processes]
    elapsed = time.perf_counter() - begin
    cpu = sum(server.cpu_times()[:2]) - cpu_before
    for process in processes:
        process.join()
    done = sum(done for done, _ in outcomes)
    failed = sum(failed for _, failed in outcomes)
    return elapsed, done, failed, cpu / max(done + failed, 1)


def memory(process: subprocess.Popen[str]) -> tuple[float, list[float]]:
    server = psutil.Process(process.pid)
    workers = [child.memory_info().rss / 2**20 for child in server.children(recursive=True)]
    return server.memory_info().rss / 2**20, workers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--burst", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="run on a new database of this PostgreSQL server (e.g. "
        "postgresql://postgres@127.0.0.1:5432/postgres) instead of SQLite in the data dir",
    )
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        database_url = (
            stack.enter_context(fresh_postgres_database(args.postgres)) if args.postgres else None
        )
        print(f"store: {'PostgreSQL' if database_url else 'SQLite (WAL)'}")
        process, url, started = start(data_dir, args.workers, database_url)
        try:
            token = (data_dir / "admin-token").read_text().strip()
            cafile = data_dir / "tls" / "cert.pem"
            print(f"(c) start to healthy: {started:.2f} s ({args.workers} workers)")
            with RuntimeProvider(url=url, token=token, verify=cafile) as provider:
                latency(provider, 10)  # warm-up: connections, pass-manager caches in workers
                times = latency(provider, args.jobs)
            base = floor(args.jobs)
            print(f"(a) trivial job over HTTPS, {args.jobs} jobs, one client:")
            print(
                f"    p50 {statistics.median(times) * 1e3:.1f} ms, "
                f"p99 {percentile(times, 0.99) * 1e3:.1f} ms"
                f"  (goal p50 <= 15 ms)"
            )
            print(
                "    in-process floor (Aer, cached pass manager): "
                f"p50 {statistics.median(base) * 1e3:.2f} ms"
            )
            elapsed, done, failed, cpu = burst(
                url, token, cafile, args.burst, args.clients, psutil.Process(process.pid)
            )
            print(
                f"(b) {args.burst} jobs from {args.clients} client processes: {elapsed:.1f} s, "
                f"{done / elapsed:.0f} jobs/s (goal >= 100), completed {done}, failed {failed}, "
                f"lost {args.burst - done - failed}; server CPU {cpu * 1e3:.1f} ms per job"
            )
            server_rss, worker_rss = memory(process)
            print(
                f"(d) memory: server {server_rss:.0f} MiB RSS; workers "
                + ", ".join(f"{rss:.0f}" for rss in worker_rss)
                + " MiB RSS"
            )
        finally:
            process.terminate()
            process.wait(timeout=60)
            if os.environ.get("QRUNTIME_BENCH_LOG"):
                print((data_dir / "serve.log").read_text()[-20000:], file=sys.stderr)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
