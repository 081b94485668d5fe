"""Building a job's circuits: transpiled once for the backend, parameters left free."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qiskit import QuantumCircuit
from qiskit.circuit import Parameter, ParameterVector

from qruntime.errors import InputError
from qruntime.programs.circuit_runner.options import transpile_options
from qruntime.programs.circuit_runner.transpilation import transpile

from .inputs import Seeds
from .sampler import CircuitSampler, Template

Unbound = tuple[QuantumCircuit, tuple[Parameter, ...]]
"""A circuit to transpile and the order in which a request gives its parameters."""


def overlap_circuit(ansatz: QuantumCircuit) -> Unbound:
    """The circuit whose all-zeros probability is ``|<ψ(x)|ψ(y)>|²`` (compute-uncompute).

    Its parameters are given as ``x`` then ``y``, each in the order of ``ansatz.parameters``.
    """
    parameters = list(ansatz.parameters)
    first = ParameterVector("x", len(parameters))
    second = ParameterVector("y", len(parameters))
    left = ansatz.assign_parameters(dict(zip(parameters, first, strict=True)))
    right = ansatz.assign_parameters(dict(zip(parameters, second, strict=True)))
    circuit = left.compose(right.inverse())
    circuit.name = f"{ansatz.name}_overlap"
    circuit.measure_all()
    return circuit, (*first, *second)


def build_sampler(
    backend: Any,
    circuits: Sequence[Unbound],
    *,
    shots: int,
    seeds: Seeds,
    mitigate: bool,
    optimization_level: Any,
    initial_layout: Any = None,
    routing_method: str | None = None,
) -> CircuitSampler:
    """Transpile ``circuits`` for ``backend`` in one pass-manager run; a sampler over them.

    The transpiler is seeded with the job's ``seed``, so a seeded job compiles the same way
    every time. The preset pass managers are cached across jobs, as for circuit-runner.
    """
    backend_name = str(backend.name)
    target = backend.target
    num_qubits: int | None = target.num_qubits or backend.num_qubits
    width = max(circuit.num_qubits for circuit, _ in circuits)
    if num_qubits is not None and width > num_qubits:
        raise InputError(
            f"the circuits use {width} qubits but {backend_name} has {num_qubits}",
            field="backend",
        )
    options = transpile_options(
        num_backend_qubits=num_qubits,
        optimization_level=optimization_level,
        seed_transpiler=seeds.seed,
        initial_layout=initial_layout,
        layout_method=None,
        routing_method=routing_method,
        translation_method=None,
        transpiler_options=None,
    )
    if options.initial_layout is not None and len(options.initial_layout) != width:
        raise InputError(
            f"initial_layout places {len(options.initial_layout)} qubits but the circuit has "
            f"{width}; give one physical qubit per circuit qubit",
            field="initial_layout",
        )
    transpiled = transpile([circuit for circuit, _ in circuits], backend, target, options)
    templates = [
        Template(circuit, inputs) for circuit, (_, inputs) in zip(transpiled, circuits, strict=True)
    ]
    return CircuitSampler(backend, templates, shots, seeds.simulator, mitigate, num_qubits)
