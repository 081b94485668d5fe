"""The service over HTTPS on loopback: job latency, throughput, start-up and memory.

Starts a real `qruntime serve` (temporary data dir, SQLite, TLS) and measures:
  (a) a trivial job — circuit-runner, a Bell circuit, 1024 shots, ibmq_qasm_simulator — from
      submit to result through ``RuntimeProvider`` (POST /runtime/jobs, the WebSocket until the
      job ends, GET .../results): p50 and p99 over N jobs, next to the in-process floor (the same
      circuit on Aer with a cached pass manager, in this process);
  (b) M such jobs from C concurrent clients: jobs per second, and that every job completed;
  (c) from starting the process to /health answering 200;
  (d) resident memory of the server process and of one warm worker.

    python benchmarks/service.py [--jobs 200] [--burst 2000] [--clients 8] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from qiskit import QuantumCircuit
from qiskit.transpiler.preset_passmanagers import generate_preset_pass_manager

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


def start(data_dir: Path, workers: int) -> tuple[subprocess.Popen[str], str, float]:
    qruntime = Path(sys.executable).parent / "qruntime"
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


def burst(url: str, token: str, cafile: Path, total: int, clients: int) -> tuple[float, int, int]:
    circuit = bell()
    per_client = total // clients
    done = [0] * clients
    failed = [0] * clients

    def client(index: int) -> None:
        with RuntimeProvider(url=url, token=token, verify=cafile) as provider:
            jobs = [
                provider.runtime.run(
                    "circuit-runner", inputs={"circuits": circuit}, options=SIMULATOR
                )
                for _ in range(per_client)
            ]
            for job in jobs:
                try:
                    job.result(timeout=600)
                    done[index] += 1
                except Exception:
                    failed[index] += 1

    begin = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - begin, sum(done), sum(failed)


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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        process, url, started = start(data_dir, args.workers)
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
            elapsed, done, failed = burst(url, token, cafile, args.burst, args.clients)
            print(
                f"(b) {args.burst} jobs from {args.clients} clients: {elapsed:.1f} s, "
                f"{done / elapsed:.0f} jobs/s (goal >= 100), completed {done}, failed {failed}, "
                f"lost {args.burst - done - failed}"
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
