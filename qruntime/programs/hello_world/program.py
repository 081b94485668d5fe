"""hello-world: runs a random circuit a number of times and publishes each result's counts."""

from __future__ import annotations

import random
from typing import Any

from qiskit import transpile
from qiskit.circuit.random import random_circuit

from qruntime.program import ProgramBackend, UserMessenger


def run_iterations(backend: ProgramBackend, user_messenger: UserMessenger, iterations: int) -> str:
    """Each iteration builds a random 5-qubit circuit, runs it and publishes its counts."""
    for iteration in range(iterations):
        circuit = random_circuit(num_qubits=5, depth=4, measure=True, seed=random.randint(0, 1000))
        transpiled = transpile(circuit, backend)
        counts = backend.run(transpiled).result().get_counts()
        user_messenger.publish({"iteration": iteration, "counts": counts})
    return "All done!"


def main(backend: ProgramBackend, user_messenger: UserMessenger, **kwargs: Any) -> str:
    """Run ``iterations`` (default 1) random circuits, publishing each one's counts."""
    iterations = kwargs.pop("iterations", 1)
    return run_iterations(backend, user_messenger, iterations)
