"""What circuit-runner through the local path costs over calling Aer directly, in one process.

Two measurements, each against a baseline that does the same work by hand in the same process:

1. 500 random 5-qubit circuits at 1024 shots. Baseline: transpile them with a cached preset pass
   manager for the backend and run them on its AerSimulator in one job. circuit-runner: the same
   circuits through ``run_program`` (inputs and result pass the wire format, inputs are checked
   against the spec, the result comes back as ``Result.to_dict()``). Goal: ratio <= 1.10.
2. A Bell circuit: the per-job cost of the local path against bare Aer with a cached pass manager.

Runs alternate between the two sides and the median of each is reported, so drift on a shared
machine affects both sides alike.

    python benchmarks/circuit_runner_overhead.py [--backend ibmq_qasm_simulator] [--repeats 5]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable
from typing import Any

from qiskit import QuantumCircuit
from qiskit.circuit.random import random_circuit
from qiskit.transpiler.preset_passmanagers import generate_preset_pass_manager

from qruntime.backends import default_catalogue
from qruntime.local import run_program


def timed(fn: Callable[[], Any], collect: bool) -> float:
    # As timeit does: no collection while timing, so that neither side is billed for the
    # garbage the other left behind. A full collection before each run suits long runs; short
    # ones skip it, since the pause lets Aer's worker threads fall asleep.
    if collect:
        gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start
    finally:
        gc.enable()


def compare(
    baseline: Callable[[], Any], runtime: Callable[[], Any], repeats: int, collect: bool
) -> tuple[float, float, float]:
    """Median seconds of each side and median ratio of the pairs, measured alternately."""
    baseline()
    runtime()
    base_times, runtime_times = [], []
    for _ in range(repeats):
        base_times.append(timed(baseline, collect))
        runtime_times.append(timed(runtime, collect))
    ratios = [r / b for b, r in zip(base_times, runtime_times, strict=True)]
    return (
        statistics.median(base_times),
        statistics.median(runtime_times),
        statistics.median(ratios),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="ibmq_qasm_simulator")
    parser.add_argument("--circuits", type=int, default=500)
    parser.add_argument("--shots", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    backend = default_catalogue().get(args.backend)
    pass_manager = generate_preset_pass_manager(optimization_level=1, backend=backend)

    def bare_aer(circuits: list[QuantumCircuit]) -> Any:
        return backend.wrapped.run(pass_manager.run(circuits), shots=args.shots).result()

    def through_runtime(circuits: list[QuantumCircuit]) -> Any:
        inputs = {"circuits": circuits, "shots": args.shots, "optimization_level": 1}
        return run_program("circuit-runner", inputs, backend=args.backend)

    batch = [random_circuit(5, depth=5, measure=True, seed=seed) for seed in range(args.circuits)]
    base, runtime, ratio = compare(
        lambda: bare_aer(batch), lambda: through_runtime(batch), args.repeats, collect=True
    )
    print(f"backend {args.backend}, {args.circuits} random 5-qubit circuits, {args.shots} shots")
    print(f"  bare Aer (cached pass manager): {base * 1e3:9.1f} ms")
    print(f"  circuit-runner, local path:     {runtime * 1e3:9.1f} ms")
    print(f"  ratio (median of {args.repeats} pairs): {ratio:.3f}  (goal <= 1.10)")

    bell = QuantumCircuit(2)
    bell.h(0)
    bell.cx(0, 1)
    bell.measure_all()
    base, runtime, ratio = compare(
        lambda: bare_aer([bell]), lambda: through_runtime([bell]), 50, collect=False
    )
    print(f"Bell circuit, {args.shots} shots")
    print(f"  bare Aer (cached pass manager): {base * 1e3:9.2f} ms")
    print(f"  circuit-runner, local path:     {runtime * 1e3:9.2f} ms")
    print(f"  added per job: {(runtime - base) * 1e3:.2f} ms, ratio {ratio:.2f}")


if __name__ == "__main__":
    main()
