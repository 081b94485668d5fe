"""The VQE of ``benchmarks/io_overhead.py``, run three ways, each timed.

  (a) :func:`run_vqe_job`: one ``vqe`` job; the optimizer runs in the worker, next to the
      simulator.
  (b) :func:`run_client_loop`: the client runs the same VQE code in its own process (qruntime's
      vqe program: the same measurement groups, circuits transpiled once, the same SPSA and
      seed) on a :class:`CircuitRunnerBackend`, whose ``run()`` is one ``circuit-runner`` job
      submitted through ``RuntimeProvider``; each batch of circuits (SPSA's calibration, each
      step's two perturbed points for every group, the final evaluation) is one job.
  (c) :func:`measure_in_process`: the vqe program on the service's backend in this process, then
      every batch of circuits it sent replayed directly on the AerSimulator behind that backend.

The circuits of (b) are transpiled for the same target as in the job and sent with
``optimization_level`` 0, and every job carries the simulator seed the vqe job draws for that
batch, so all three run the same circuits with the same seeds and end at the same energy.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from qiskit import QuantumCircuit
from qiskit.circuit.library import efficient_su2
from qiskit.providers import BackendV2, Options
from qiskit.quantum_info import SparsePauliOp
from qiskit.result import Result
from qiskit.transpiler import Target

from qruntime import RuntimeProvider
from qruntime.algorithms.expectation import MeasurementPlan
from qruntime.backends import default_catalogue
from qruntime.client.job import RuntimeJob
from qruntime.program import ProgramBackend, UserMessenger
from qruntime.program.backend import ProgramJob
from qruntime.programs.vqe.program import main as vqe_main

if __package__:
    from .delay_proxy import LinkStats, ProxyThread
else:  # imported by the script: python benchmarks/io_overhead.py
    from delay_proxy import LinkStats, ProxyThread  # type: ignore[no-redef,import-not-found]

JOB_TIMEOUT = 600.0
"""Seconds to wait for any one job."""


# -- the problem ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """The VQE both paths solve: a Heisenberg chain, ``efficient_su2``, SPSA, seeded."""

    qubits: int = 4
    iterations: int = 100
    shots: int = 1024
    seed: int = 7
    backend: str = "ibmq_qasm_simulator"

    def ansatz(self) -> QuantumCircuit:
        """``efficient_su2`` with one repetition and linear entanglement."""
        return efficient_su2(self.qubits, reps=1, entanglement="linear")

    def operator(self) -> SparsePauliOp:
        """The Heisenberg chain Σ X_i X_(i+1) + Y_i Y_(i+1) + Z_i Z_(i+1), open ends."""
        terms = [
            (pauli * 2, [qubit, qubit + 1], 1.0)
            for qubit in range(self.qubits - 1)
            for pauli in "XYZ"
        ]
        return SparsePauliOp.from_sparse_list(terms, self.qubits)

    def inputs(self) -> dict[str, Any]:
        """The vqe program's inputs."""
        return {
            "ansatz": self.ansatz(),
            "operator": self.operator(),
            "optimizer": {"name": "SPSA", "maxiter": self.iterations},
            "shots": self.shots,
            "seed": self.seed,
        }

    def describe(self) -> str:
        """One line naming the problem."""
        groups = len(MeasurementPlan.for_operators([self.operator()]).groups)
        return (
            f"VQE: {self.qubits}-qubit Heisenberg chain ({groups} measurement groups), "
            f"efficient_su2 reps=1 linear ({self.ansatz().num_parameters} parameters), "
            f"SPSA {self.iterations} iterations, {self.shots} shots, {self.backend}, "
            f"seed {self.seed}"
        )


# -- (b): a backend whose run() is a circuit-runner job -----------------------------------------


@dataclass(frozen=True)
class JobTiming:
    """One circuit-runner job of the client loop, in seconds.

    ``started``: when the client began to submit it (``time.perf_counter()``); ``submit``:
    encoding the circuits and POSTing the job; ``wait``: from then until the result arrived;
    ``decode``: turning it into a ``Result``; ``aer``: the simulation time Aer reported inside
    the worker.
    """

    circuits: int
    started: float
    submit: float
    wait: float
    decode: float
    aer: float


class _RemoteRun:
    """What ``CircuitRunnerBackend.run`` returns: ``result()`` waits for the job."""

    def __init__(
        self,
        job: RuntimeJob,
        circuits: int,
        started: float,
        done: Callable[[JobTiming], None],
    ) -> None:
        self._job = job
        self._circuits = circuits
        self._started = started
        self._submitted = time.perf_counter()
        self._done = done

    def result(self) -> Result:
        raw = self._job.result(timeout=JOB_TIMEOUT)
        received = time.perf_counter()
        result = Result.from_dict(raw)
        timing = JobTiming(
            circuits=self._circuits,
            started=self._started,
            submit=self._submitted - self._started,
            wait=received - self._submitted,
            decode=time.perf_counter() - received,
            aer=float(raw.get("time_taken") or 0.0),
        )
        self._done(timing)
        return result


class CircuitRunnerBackend(BackendV2):  # type: ignore[misc]
    """A remote backend as a client sees it: each ``run()`` is one circuit-runner job.

    It compiles for the same target as the service's backend of that name (a client of IBM's
    service built it from the backend's configuration), so the circuits a program transpiles for
    it are those the vqe job runs; they are sent with ``optimization_level`` 0.

    Args:
        provider: the client connected to the service.
        like: the service's backend, for its name, target and limits.
    """

    def __init__(self, provider: RuntimeProvider, like: ProgramBackend) -> None:
        super().__init__(provider=None, name=str(like.name))
        self._provider = provider
        self._like = like
        self.jobs: list[JobTiming] = []

    @classmethod
    def _default_options(cls) -> Options:
        return Options(shots=1024)

    @property
    def target(self) -> Target:
        return self._like.target

    @property
    def max_circuits(self) -> int | None:
        return self._like.max_circuits

    @property
    def max_shots(self) -> int | None:
        return self._like.max_shots

    def run(self, run_input: Sequence[QuantumCircuit], **options: Any) -> _RemoteRun:
        circuits = list(run_input)
        inputs = {"circuits": circuits, "optimization_level": 0, **options}
        started = time.perf_counter()
        job = self._provider.runtime.run(
            "circuit-runner", inputs=inputs, options={"backend_name": self.name}
        )
        return _RemoteRun(job, len(circuits), started, self.jobs.append)


# -- the two paths ------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobRun:
    """(a): one vqe job, from submitting it to holding its result."""

    wall: float
    optimizer_time: float
    energy: float
    std: float
    batches: int
    interim_results: int
    link: LinkStats | None


@dataclass(frozen=True)
class StepCost:
    """Mean seconds of one optimizer step of the client loop, from one submit to the next, and
    its parts (see :class:`JobTiming`); the rest is the client's own work."""

    wall: float
    submit: float
    wait: float
    aer: float
    decode: float

    @property
    def client(self) -> float:
        """Binding the circuits, estimating energies, the optimizer's own work."""
        return self.wall - self.submit - self.wait - self.decode


@dataclass(frozen=True)
class LoopRun:
    """(b): the client-side loop, from its first job to its final energy."""

    wall: float
    energy: float
    std: float
    jobs: list[JobTiming]
    link: LinkStats | None

    def step(self) -> StepCost:
        """What an optimizer step's job cost on average (SPSA's calibration and the final
        evaluation, the first and last job, left out)."""
        steps = self.jobs[1:-1]
        walls = [
            after.started - job.started for job, after in zip(steps, self.jobs[2:], strict=True)
        ]
        return StepCost(
            wall=statistics.fmean(walls),
            submit=statistics.fmean(job.submit for job in steps),
            wait=statistics.fmean(job.wait for job in steps),
            aer=statistics.fmean(job.aer for job in steps),
            decode=statistics.fmean(job.decode for job in steps),
        )


def link_stats(proxy: ProxyThread | None) -> LinkStats | None:
    """The proxy's counts so far, or None on loopback."""
    return None if proxy is None else proxy.stats


def link_since(before: LinkStats | None, proxy: ProxyThread | None) -> LinkStats | None:
    """The proxy's counts since ``before`` (its :func:`link_stats`), or None on loopback."""
    return None if before is None or proxy is None else proxy.stats - before


def run_vqe_job(
    provider: RuntimeProvider, problem: Problem, proxy: ProxyThread | None = None
) -> JobRun:
    """(a): submit one vqe job and wait for its result."""
    before = link_stats(proxy)
    begin = time.perf_counter()
    job = provider.runtime.run(
        "vqe", inputs=problem.inputs(), options={"backend_name": problem.backend}
    )
    result = job.result(timeout=JOB_TIMEOUT)
    wall = time.perf_counter() - begin
    link = link_since(before, proxy)
    return JobRun(
        wall=wall,
        optimizer_time=float(result["optimizer_time"]),
        energy=float(result["optimal_value"]),
        std=float(result["eigenvalue_std"]),
        batches=int(result["circuit_runs"]) - 1,  # the last run is the final evaluation
        interim_results=int(result["cost_function_evals"]),  # one for each
        link=link,
    )


def run_client_loop(
    provider: RuntimeProvider, problem: Problem, proxy: ProxyThread | None = None
) -> LoopRun:
    """(b): the same VQE in this process, each batch of circuits one circuit-runner job."""
    backend = CircuitRunnerBackend(provider, default_catalogue().get(problem.backend))
    history = UserMessenger(sink=lambda text: None)  # nowhere to send them: they stay here
    before = link_stats(proxy)
    begin = time.perf_counter()
    result = vqe_main(backend, history, **problem.inputs())
    wall = time.perf_counter() - begin
    link = link_since(before, proxy)
    return LoopRun(
        wall=wall,
        energy=float(result["optimal_value"]),
        std=float(result["eigenvalue_std"]),
        jobs=backend.jobs,
        link=link,
    )


# -- (c): the same batches directly on Aer ------------------------------------------------------


class RecordingBackend(ProgramBackend):
    """The service's backend, keeping every batch of circuits and options it is asked to run."""

    def __init__(self, like: ProgramBackend) -> None:
        super().__init__(like.wrapped, like.configuration(), target=like.target)
        self.batches: list[tuple[list[QuantumCircuit], dict[str, Any]]] = []

    def run(self, run_input: Any, **options: Any) -> ProgramJob:
        circuits = [run_input] if isinstance(run_input, QuantumCircuit) else list(run_input)
        self.batches.append((circuits, dict(options)))
        return super().run(circuits, **options)


@dataclass(frozen=True)
class InProcess:
    """(c): seconds of the optimization's batches (the final evaluation left out) on Aer directly.

    ``program``: the vqe program's ``optimizer_time`` in this process, no service around it.
    ``aer``: each batch replayed on the AerSimulator as the program sent it (its circuits with
    their values as ``parameter_binds``), with the workers' threading (Aer's default unless
    ``OMP_NUM_THREADS`` says otherwise); ``aer_bound``: the same experiments as circuits bound
    beforehand (binding not timed). ``circuits``: experiments in each batch.
    """

    program: float
    energy: float
    circuits: list[int]
    aer: list[float]
    aer_bound: list[float]


def bound_circuits(circuits: list[QuantumCircuit], options: dict[str, Any]) -> list[QuantumCircuit]:
    """The experiments of one run as bound circuits, in Aer's order: circuit by circuit, then
    each set of values of its ``parameter_binds``."""
    binds = options.get("parameter_binds")
    if not binds:
        return circuits
    experiments = []
    for circuit, bind in zip(circuits, binds, strict=True):
        rows = max((len(values) for values in bind.values()), default=0)
        if not rows:
            experiments.append(circuit)
        for row in range(rows):
            experiments.append(circuit.assign_parameters({p: v[row] for p, v in bind.items()}))
    return experiments


def measure_in_process(problem: Problem) -> InProcess:
    """Run the vqe program on the service's backend here, then replay its batches on Aer."""
    catalogue = default_catalogue()
    warm = RecordingBackend(catalogue.get(problem.backend))
    vqe_main(warm, UserMessenger(sink=lambda text: None), **replace(problem, iterations=2).inputs())
    backend = RecordingBackend(catalogue.get(problem.backend))
    result = vqe_main(backend, UserMessenger(sink=lambda text: None), **problem.inputs())
    batches = backend.batches[:-1]  # the last is the final evaluation
    aer = backend.wrapped

    def timed(circuits: list[QuantumCircuit], options: dict[str, Any]) -> float:
        begin = time.perf_counter()
        aer.run(circuits, **options).result()
        return time.perf_counter() - begin

    # Each batch both ways, in turns, so that neither pass runs warmer than the other.
    as_sent: list[float] = []
    bound: list[float] = []
    experiments: list[int] = []
    for number, (circuits, options) in enumerate(batches):
        prebound = bound_circuits(circuits, options)
        experiments.append(len(prebound))
        unbound_options = {k: v for k, v in options.items() if k != "parameter_binds"}
        runs = [(as_sent, circuits, options), (bound, prebound, unbound_options)]
        for times, run_circuits, settings in runs if number % 2 == 0 else reversed(runs):
            times.append(timed(run_circuits, settings))
    return InProcess(
        program=float(result["optimizer_time"]),
        energy=float(result["optimal_value"]),
        circuits=experiments,
        aer=as_sent,
        aer_bound=bound,
    )
