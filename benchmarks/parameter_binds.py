"""One vqe step's circuits on Aer three ways: Aer binding the values, bound beforehand, bound here.

The circuits of ``benchmarks/io_overhead.py``'s VQE (its ansatz measured in each of its 3
qubit-wise commuting groups, transpiled once for ibmq_qasm_simulator's AerSimulator), at two random
points — one SPSA step — run as one Aer job each way:

  binds     the 3 circuits with both points' values as Aer's ``parameter_binds`` (what the vqe
            and qaoa programs send), the binds built inside the timing;
  bound     the 6 circuits bound beforehand (binding not timed);
  bind+run  the 6 circuits bound in Python (a copy each, assigned in place), then run.

The three alternate step by step with the same seeds; medians of each round are printed.

    python benchmarks/parameter_binds.py [--steps 200] [--rounds 3] [--shots 1024]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray
from qiskit import QuantumCircuit

from qruntime.algorithms.expectation import MeasurementPlan
from qruntime.backends import default_catalogue
from qruntime.execution.pool import threads_per_worker
from qruntime.execution.process import WORKER_DEFAULT_ENV
from qruntime.programs._variational.circuits import build_sampler
from qruntime.programs._variational.inputs import Seeds
from qruntime.settings import Settings

if __package__:
    from .vqe_paths import Problem
else:  # run as a script: python benchmarks/parameter_binds.py
    from vqe_paths import Problem  # type: ignore[no-redef,import-not-found]


Point = NDArray[np.float64]


def bound(circuit: QuantumCircuit, point: Point) -> QuantumCircuit:
    """``circuit`` with ``point`` assigned (its parameters in their order)."""
    copy = circuit.copy()
    copy.assign_parameters(point.tolist(), inplace=True)
    return copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--shots", type=int, default=1024)
    args = parser.parse_args()
    for name, value in WORKER_DEFAULT_ENV.items():
        os.environ.setdefault(name, value)
    # The threads each of the default server's workers gets.
    os.environ.setdefault("OMP_NUM_THREADS", str(threads_per_worker(Settings().workers)))

    problem = Problem()
    backend = default_catalogue().get(problem.backend)
    aer = backend.wrapped
    ansatz = problem.ansatz()
    plan = MeasurementPlan.for_operators([problem.operator()])
    unbound = [(circuit, tuple(ansatz.parameters)) for circuit in plan.circuits(ansatz)]
    sampler = build_sampler(
        backend,
        unbound,
        shots=args.shots,
        seeds=Seeds.from_input(problem.seed),
        mitigate=False,
        optimization_level=1,
    )  # the vqe program's own transpiled circuits
    circuits = [template.circuit for template in sampler.templates]
    width = ansatz.num_parameters
    rng = np.random.default_rng(problem.seed)

    print(
        f"{len(circuits)} circuits, {width} parameters, 2 points a step, {args.shots} shots, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}"
    )
    for number in range(args.rounds):
        times: dict[str, list[float]] = {way: [] for way in WAYS}
        for step in range(args.steps):
            points = [rng.uniform(-np.pi, np.pi, width) for _ in range(2)]
            prebound = [bound(circuit, point) for circuit in circuits for point in points]
            order = list(WAYS)[step % 3 :] + list(WAYS)[: step % 3]
            for way in order:
                begin = time.perf_counter()
                WAYS[way](aer, circuits, points, prebound, args.shots, step)
                times[way].append(time.perf_counter() - begin)
        medians = [f"{way} {statistics.median(t) * 1e3:.2f} ms" for way, t in times.items()]
        print(f"round {number + 1}: a step's median: {', '.join(medians)}")


def with_binds(
    aer: Any, circuits: list[QuantumCircuit], points: list[Point], _: Any, shots: int, seed: int
) -> Any:
    """The circuits once each, the points' values as ``parameter_binds``."""
    binds = [
        {p: [point[i] for point in points] for i, p in enumerate(circuit.parameters)}
        for circuit in circuits
    ]
    return aer.run(circuits, parameter_binds=binds, shots=shots, seed_simulator=seed).result()


def as_bound(
    aer: Any, _: Any, __: Any, prebound: list[QuantumCircuit], shots: int, seed: int
) -> Any:
    """The circuits bound beforehand."""
    return aer.run(prebound, shots=shots, seed_simulator=seed).result()


def bind_then_run(
    aer: Any, circuits: list[QuantumCircuit], points: list[Point], _: Any, shots: int, seed: int
) -> Any:
    """Each circuit bound at each point here, then run."""
    experiments = [bound(circuit, point) for circuit in circuits for point in points]
    return aer.run(experiments, shots=shots, seed_simulator=seed).result()


WAYS: dict[str, Callable[..., Any]] = {
    "binds": with_binds,
    "bound": as_bound,
    "bind+run": bind_then_run,
}


if __name__ == "__main__":
    main()
