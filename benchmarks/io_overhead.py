"""Why a runtime: one vqe job against the same VQE driven from the client, one job per step.

The same VQE — a 4-qubit Heisenberg chain, ``efficient_su2`` (one repetition, linear
entanglement), SPSA for 100 iterations, 1024 shots, ibmq_qasm_simulator, seeded — run two ways
against one real `qruntime serve` (temporary data dir, TLS, its operator's token):

  (a) one ``vqe`` job: the optimizer runs in the worker, next to the simulator;
  (b) a client-side loop: the client runs the same VQE code in its own process (qruntime's vqe
      program: the same measurement groups, circuits transpiled once, the same SPSA and seed)
      on a backend whose ``run()`` submits one ``circuit-runner`` job through
      ``RuntimeProvider`` over HTTPS and waits for its result. Each optimizer step's circuits
      (both perturbed points, every group) are one job, and so are SPSA's calibration batch and
      the final evaluation. The circuits go already transpiled (``optimization_level`` 0), and
      the simulator seed of every job is the one the vqe job draws, so both paths run the same
      circuits with the same seeds and should end at the same energy.

Both run on loopback and through a proxy that delays traffic ``--delay-ms`` each way
(``benchmarks/delay_proxy.py``, a stand-in for a wide-area link; it also counts connections
and client flights), with the CPU time of the server, its workers and this process measured
around each. And, in a fresh process with the workers' environment:

  (c) the circuits of every batch of the optimization replayed directly on the AerSimulator
      object behind ibmq_qasm_simulator (transpiled once, same shots and seeds, the workers'
      threading): as the vqe program sent them (each circuit once, its values as Aer's
      ``parameter_binds``), and as circuits bound beforehand (binding not timed): the compute a
      step needs. The vqe job's ``optimizer_time`` over this is what the job adds to the work
      it hosts; the goal is judged against the faster of the two.

The code of the three paths is in ``benchmarks/vqe_paths.py``.

    python benchmarks/io_overhead.py [--iterations 100] [--shots 1024] [--delay-ms 25]
                                     [--skip-delay] [--repeat 1] [--workers 2] [--aer-threads N]
                                     [--quick]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from statistics import median
from urllib.parse import urlsplit

import psutil  # type: ignore[import-untyped]

from qruntime import RuntimeProvider
from qruntime.execution.pool import threads_per_worker
from qruntime.execution.process import WORKER_DEFAULT_ENV
from qruntime.service import wait_until_healthy

if __package__:
    from . import delay_proxy, vqe_paths
else:  # run as a script: python benchmarks/io_overhead.py
    import delay_proxy  # type: ignore[no-redef]
    import vqe_paths  # type: ignore[no-redef]

# -- the service ---------------------------------------------------------------------------------


def pin(server_pid: int, cpus: int) -> set[int]:
    """``--pin``: the server, its threads and this process (client, proxy) on CPU 0, the
    workers (and so the vqe job) on the other CPUs; return the workers' CPUs. Threads started
    later inherit their starter's CPUs."""
    near, far = {0}, set(range(1, cpus))
    server = psutil.Process(server_pid)
    for process, chosen in [(server, near)] + [(c, far) for c in server.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            for thread in process.threads():
                with contextlib.suppress(OSError):
                    os.sched_setaffinity(thread.id, chosen)
    os.sched_setaffinity(0, near)
    return far


def pinned_measure_in_process(
    problem: vqe_paths.Problem, cpus: set[int] | None
) -> vqe_paths.InProcess:
    """(c) in its own process, on the workers' CPUs when they are pinned."""
    if cpus:
        os.sched_setaffinity(0, cpus)
    return vqe_paths.measure_in_process(problem)


def start_server(data_dir: Path, workers: int) -> tuple[subprocess.Popen[str], str]:
    """Start `qruntime serve` on a free port of 127.0.0.1; return it once healthy, and its URL."""
    qruntime = Path(sys.executable).parent / "qruntime"
    command = [str(qruntime), "serve", "--port", "0", "--data-dir", str(data_dir)]
    command += ["--workers", str(workers)]
    log = open(data_dir / "serve.log", "w")  # noqa: SIM115 -- the server writes it until stopped
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True)
    assert process.stdout is not None
    try:
        url = ""
        for line in process.stdout:
            if "listening on" in line:
                url = line.split("listening on", 1)[1].strip()
                break
        if not url:
            raise RuntimeError(
                f"qruntime serve did not start: {(data_dir / 'serve.log').read_text()}"
            )
        threading.Thread(target=process.stdout.read, daemon=True).start()  # keep it drained
        wait_until_healthy(url, data_dir / "tls" / "cert.pem", 300, lambda: process.poll() is None)
    except BaseException:
        stop_server(process)
        raise
    return process, url


def stop_server(process: subprocess.Popen[str]) -> None:
    """Stop the server and wait for it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass(frozen=True)
class CpuTimes:
    """CPU seconds (user and system) of the server process, of its workers, and of this one
    (the client, and the proxy's thread)."""

    server: float
    workers: float
    client: float

    def __sub__(self, before: CpuTimes) -> CpuTimes:
        return CpuTimes(
            self.server - before.server,
            self.workers - before.workers,
            self.client - before.client,
        )


class CpuMeter:
    """Reads the CPU time the server, its workers and this process have used so far."""

    def __init__(self, server_pid: int) -> None:
        self._server = psutil.Process(server_pid)

    def read(self) -> CpuTimes:
        workers = 0.0
        for child in self._server.children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                workers += sum(child.cpu_times()[:2])
        return CpuTimes(sum(self._server.cpu_times()[:2]), workers, time.process_time())


@dataclass
class Link:
    """One way of reaching the server, loopback or through the delaying proxy, and what was
    measured on it: each run of (a) and (b), and the CPU time each took where measured."""

    name: str
    provider: RuntimeProvider
    proxy: delay_proxy.ProxyThread | None
    jobs: list[vqe_paths.JobRun] = field(default_factory=list)
    loops: list[vqe_paths.LoopRun] = field(default_factory=list)
    job_cpu: list[CpuTimes] = field(default_factory=list)
    loop_cpu: list[CpuTimes] = field(default_factory=list)

    def measure(self, problem: vqe_paths.Problem, meter: CpuMeter) -> None:
        """Run (a), then (b), keeping their times and CPU times."""
        before = meter.read()
        self.jobs.append(vqe_paths.run_vqe_job(self.provider, problem, self.proxy))
        middle = meter.read()
        self.loops.append(vqe_paths.run_client_loop(self.provider, problem, self.proxy))
        self.job_cpu.append(middle - before)
        self.loop_cpu.append(meter.read() - middle)


def warm_up(link: Link, problem: vqe_paths.Problem) -> None:
    """Both paths once, briefly: connections, the workers' and this process's pass managers."""
    short = replace(problem, iterations=2)
    vqe_paths.run_vqe_job(link.provider, short)
    vqe_paths.run_client_loop(link.provider, short)


# -- the report ----------------------------------------------------------------------------------


def median_cpu(times: Sequence[CpuTimes]) -> CpuTimes:
    return CpuTimes(
        median([t.server for t in times]),
        median([t.workers for t in times]),
        median([t.client for t in times]),
    )


def typical(loops: Sequence[vqe_paths.LoopRun]) -> vqe_paths.LoopRun:
    """The run of (b) whose wall time is the median (the upper one of an even number)."""
    return sorted(loops, key=lambda loop: loop.wall)[len(loops) // 2]


def goal(value: float, target: float, at_least: bool) -> str:
    met = value >= target if at_least else value <= target
    return f"{'>=' if at_least else '<='} {target:g}: {'met' if met else 'NOT met'}"


def report(
    problem: vqe_paths.Problem, links: list[Link], measured: list[vqe_paths.InProcess], delay: float
) -> None:
    """Print the table and where each side's time goes (medians over the repeats)."""
    print(f"\n{problem.describe()}")
    print(
        f"Aer threads in the workers and in (c): {os.environ.get('OMP_NUM_THREADS', 'default')}; "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}; "
        f"repeats: {len(measured)} (figures are medians over them)\n"
    )
    report_table(links)
    report_job(links)
    report_loop(links, delay)
    report_inside(links, measured)


def report_table(links: list[Link]) -> None:
    """(a) and (b) on each link, their ratio against its goal, and their final energies."""
    width = 24

    def row(label: str, cells: Sequence[str]) -> None:
        print(f"{label:32}" + "".join(f"{cell:>{width}}" for cell in cells))

    row("", [link.name for link in links])
    row("(a) one vqe job", [f"{median([j.wall for j in link.jobs]):.2f} s" for link in links])
    row(
        f"(b) client loop, {len(links[0].loops[0].jobs)} jobs",
        [f"{median([loop.wall for loop in link.loops]):.2f} s" for link in links],
    )
    ratios = [
        median([loop.wall / job.wall for job, loop in zip(link.jobs, link.loops, strict=True)])
        for link in links
    ]
    row("(b)/(a)", [f"{ratio:.1f}x" for ratio in ratios])
    targets = [2.0 if link.proxy is None else 10.0 for link in links]
    row("goal", [goal(r, t, at_least=True) for r, t in zip(ratios, targets, strict=True)])
    row("final energy (a)", [f"{link.jobs[-1].energy:.4f}" for link in links])
    row("final energy (b)", [f"{link.loops[-1].energy:.4f}" for link in links])
    row("  its shot noise (std)", [f"{link.jobs[-1].std:.4f}" for link in links])


def report_job(links: list[Link]) -> None:
    """Where (a)'s time goes: the optimizer in the job, the rest, CPU, the link."""
    print("\n(a) one vqe job:")
    loopback = median([j.wall for j in links[0].jobs])
    for link in links:
        optimizer = median([j.optimizer_time for j in link.jobs])
        wall = median([j.wall for j in link.jobs])
        print(
            f"  {link.name}: the optimizer {optimizer:.2f} s ({link.jobs[0].batches} batches "
            f"of circuits); around it {wall - optimizer:.2f} s (submit, start, transpiling "
            "once, final evaluation, result)"
        )
        if link.job_cpu:
            cpu = median_cpu(link.job_cpu)
            count = link.jobs[0].interim_results
            print(
                f"    CPU: the worker {cpu.workers:.2f} s, the server {cpu.server:.2f} s "
                f"({count} interim results stored and streamed: at most "
                f"{cpu.server / count * 1e3:.1f} ms each), this process {cpu.client:.2f} s"
            )
        stats = link.jobs[-1].link
        if stats is not None:
            print(
                f"    the link: {stats.connections} connections, {stats.flights} client "
                f"flights; {(wall - loopback) * 1e3:+.0f} ms over loopback"
            )


def report_loop(links: list[Link], delay: float) -> None:
    """Where (b)'s time goes, per optimizer step: submitting, waiting, Aer, CPU, the link."""
    jobs = len(links[0].loops[0].jobs)
    circuits = links[0].loops[0].jobs[1].circuits
    print(f"\n(b) client loop: an optimizer step, one job of {circuits} circuits (mean):")
    loopback = typical(links[0].loops).step().wall
    for link in links:
        step = typical(link.loops).step()
        print(
            f"  {link.name}: {step.wall * 1e3:.1f} ms = submit (encode, POST) "
            f"{step.submit * 1e3:.1f} + wait for the result {step.wait * 1e3:.1f} "
            f"(Aer in the worker {step.aer * 1e3:.1f}) + decode {step.decode * 1e3:.1f} "
            f"+ the client's own work {step.client * 1e3:.1f}"
        )
        if link.loop_cpu:
            cpu = median_cpu(link.loop_cpu)
            print(
                f"    CPU per job: the workers {cpu.workers / jobs * 1e3:.1f} ms, the server "
                f"{cpu.server / jobs * 1e3:.1f} ms, this process {cpu.client / jobs * 1e3:.1f} ms"
            )
        stats = link.loops[-1].link
        if stats is not None:
            added = step.wall - loopback
            print(
                f"    the link: {stats.connections / jobs:.1f} connections and "
                f"{stats.flights / jobs:.1f} client flights per job; {added * 1e3:+.0f} ms "
                f"per step over loopback = {added / (2 * delay):.1f} round trips of "
                f"{2 * delay * 1e3:g} ms"
            )


def report_inside(links: list[Link], measured: list[vqe_paths.InProcess]) -> None:
    """The vqe job's optimizer against its batches run directly on Aer, (c)."""
    first = measured[0]
    print(
        f"\nInside the vqe job: the {len(first.circuits)} batches of the optimization "
        f"({first.circuits[0]} circuits in SPSA's calibration, then {first.circuits[-1]} a step)"
    )
    aer = [sum(m.aer) for m in measured]
    bound = [sum(m.aer_bound) for m in measured]
    step = median([median(m.aer[1:]) for m in measured])
    step_bound = median([median(m.aer_bound[1:]) for m in measured])
    print(
        f"  (c) Aer directly, as the program sent them: {median(aer):.2f} s (a step "
        f"{step * 1e3:.1f} ms, the calibration {median([m.aer[0] for m in measured]) * 1e3:.0f} "
        f"ms); bound beforehand {median(bound):.2f} s (a step {step_bound * 1e3:.1f} ms)"
    )
    print(
        "  the vqe program in one process, no service: "
        f"{median([m.program for m in measured]):.2f} s"
    )
    inside = [median([link.jobs[i].optimizer_time for link in links]) for i in range(len(aer))]
    print(f"  the vqe job's optimizer_time in a worker: {median(inside):.2f} s")
    fastest = [min(pair) for pair in zip(aer, bound, strict=True)]
    ratio = median([job / direct for job, direct in zip(inside, fastest, strict=True)])
    print(f"  job / (c): {ratio:.2f} (goal {goal(ratio, 1.2, at_least=False)})")
    for name, direct in (("as sent", aer), ("bound beforehand", bound)):
        each = [job / d for job, d in zip(inside, direct, strict=True)]
        print(f"    against (c) {name}: {median(each):.2f} (repeats: "
              f"{', '.join(f'{r:.2f}' for r in each)})")  # fmt: skip


# -- main ----------------------------------------------------------------------------------------


def load_average() -> str:
    try:
        return ", ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def run(args: argparse.Namespace) -> None:
    """Start the server (and proxy), measure every side ``args.repeat`` times, report."""
    problem = vqe_paths.Problem(iterations=args.iterations, shots=args.shots)
    delay = args.delay_ms / 1000
    # The workers run Aer with OpenMP threads that sleep between parallel regions; (c), in a
    # process spawned from this one, does the same. The server and its workers inherit OMP_*.
    for name, value in WORKER_DEFAULT_ENV.items():
        os.environ.setdefault(name, value)
    # The workers get the cores divided among them unless OMP_NUM_THREADS says otherwise
    # (qruntime.execution.pool); (c) runs with what they run with.
    threads = args.aer_threads or threads_per_worker(args.workers)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    print(f"load average before: {load_average()}")
    spawn = multiprocessing.get_context("spawn")
    with contextlib.ExitStack() as stack:
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="qruntime-io-")))
        in_process = stack.enter_context(
            concurrent.futures.ProcessPoolExecutor(1, mp_context=spawn)
        )
        process, url = start_server(data_dir, args.workers)
        stack.callback(stop_server, process)
        worker_cpus = pin(process.pid, os.cpu_count() or 1) if args.pin else None
        if worker_cpus:
            print(f"pinned: the server and this process on CPU 0, the workers and (c) on CPUs "
                  f"{sorted(worker_cpus)}")  # fmt: skip
        token = (data_dir / "admin-token").read_text().strip()
        cafile = data_dir / "tls" / "cert.pem"
        links = [Link("loopback", stack.enter_context(RuntimeProvider(url, token, cafile)), None)]
        if not args.skip_delay:
            server = urlsplit(url)
            assert server.hostname is not None
            assert server.port is not None
            proxy = stack.enter_context(
                delay_proxy.running_proxy(server.hostname, server.port, delay)
            )
            proxied = f"https://{server.hostname}:{proxy.port}"
            provider = stack.enter_context(RuntimeProvider(proxied, token, cafile))
            links.append(Link(f"{args.delay_ms:g} ms each way", provider, proxy))
        for link in links:
            warm_up(link, problem)
        meter = CpuMeter(process.pid)
        measured = []
        for repeat in range(args.repeat):
            measured.append(
                in_process.submit(pinned_measure_in_process, problem, worker_cpus).result()
            )
            print(
                f"repeat {repeat + 1}: (c) Aer directly {sum(measured[-1].aer):.2f} s, the vqe "
                f"program in one process {measured[-1].program:.2f} s",
                flush=True,
            )
            for link in links:
                link.measure(problem, meter)
                print(
                    f"repeat {repeat + 1}, {link.name}: (a) {link.jobs[-1].wall:.2f} s "
                    f"(optimizer {link.jobs[-1].optimizer_time:.2f} s), "
                    f"(b) {link.loops[-1].wall:.2f} s",
                    flush=True,
                )
        report(problem, links, measured, delay)
    print(f"\nload average after: {load_average()}")


def positive(text: str) -> int:
    """A whole number of at least 1, for the command line."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--iterations", type=positive, default=100, help="SPSA iterations")
    parser.add_argument("--shots", type=positive, default=1024)
    parser.add_argument("--delay-ms", type=float, default=25.0, help="proxy delay, each way")
    parser.add_argument("--skip-delay", action="store_true", help="loopback only")
    parser.add_argument("--repeat", type=positive, default=1, help="measure each side this often")
    parser.add_argument("--workers", type=positive, default=2, help="the server's workers")
    parser.add_argument(
        "--aer-threads",
        type=positive,
        help="OpenMP threads of Aer in the workers and in (c) (OMP_NUM_THREADS); "
        "default: what the workers get by default, the cores divided among them",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: 3 iterations, one repeat"
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="Linux, 2 or more CPUs: the server and the client on CPU 0, the workers and (c) "
        "on the others, so that the server's work does not share the job's CPU",
    )
    args = parser.parse_args(argv)
    if args.pin and (os.cpu_count() or 1) < 2:
        parser.error("--pin needs at least 2 CPUs")
    if args.quick:
        args.iterations, args.repeat = 3, 1
    return args


if __name__ == "__main__":
    run(parse_arguments())
