"""The ``circuits`` input of circuit-runner: QuantumCircuits or OpenQASM 2/3 source, checked."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from qiskit import QuantumCircuit

from qruntime.errors import InputError

_QASM_VERSION = re.compile(r"^\s*(?://[^\n]*\n\s*|/\*.*?\*/\s*)*OPENQASM\s+(\d+)", re.DOTALL)


def load_circuits(circuits: Any) -> list[QuantumCircuit]:
    """The circuits of a job as a list, with OpenQASM source parsed into circuits."""
    if isinstance(circuits, QuantumCircuit | str):
        return [_load_one(circuits, "circuits")]
    if not isinstance(circuits, Sequence) or isinstance(circuits, bytes):
        raise InputError(
            "circuits must be a QuantumCircuit, OpenQASM 2 or 3 source, or a list of them, "
            f"not {type(circuits).__name__}",
            field="circuits",
        )
    if not circuits:
        raise InputError("circuits is an empty list; give at least one circuit", field="circuits")
    return [_load_one(circuit, f"circuits[{index}]") for index, circuit in enumerate(circuits)]


def check_circuits(
    circuits: Sequence[QuantumCircuit],
    backend_name: str,
    num_backend_qubits: int | None,
    initial_layout: Sequence[int] | None,
) -> None:
    """Refuse circuits the backend cannot run whatever the transpiler does."""
    for circuit in circuits:
        if num_backend_qubits is not None and circuit.num_qubits > num_backend_qubits:
            raise InputError(
                f"circuit {circuit.name!r} uses {circuit.num_qubits} qubits but {backend_name} "
                f"has {num_backend_qubits}",
                field="circuits",
            )
        if circuit.parameters:
            names = ", ".join(p.name for p in circuit.parameters)
            raise InputError(
                f"circuit {circuit.name!r} has unbound parameters ({names}); assign values to "
                "them (QuantumCircuit.assign_parameters) before running it",
                field="circuits",
            )
        if initial_layout is not None and len(initial_layout) != circuit.num_qubits:
            raise InputError(
                f"initial_layout places {len(initial_layout)} qubits but circuit "
                f"{circuit.name!r} has {circuit.num_qubits}; give one physical qubit per "
                "circuit qubit",
                field="initial_layout",
            )


def _load_one(circuit: Any, where: str) -> QuantumCircuit:
    if isinstance(circuit, QuantumCircuit):
        return circuit
    if not isinstance(circuit, str):
        raise InputError(
            f"{where} is a {type(circuit).__name__}; expected a QuantumCircuit or OpenQASM 2 or "
            "3 source",
            field="circuits",
        )
    match = _QASM_VERSION.match(circuit)
    if match is None:
        raise InputError(
            f"{where} is a string but not OpenQASM source; it must begin with 'OPENQASM 2.0;' "
            "or 'OPENQASM 3.0;'",
            field="circuits",
        )
    version = match.group(1)
    try:
        if version == "2":
            from qiskit import qasm2

            # The legacy instructions make qelib1.inc's gates Qiskit's standard gates, which the
            # transpiler and Aer know natively, as a circuit built in Python would have them.
            return qasm2.loads(circuit, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
        if version == "3":
            from qiskit import qasm3

            return qasm3.loads(circuit)
    except Exception as error:  # the parsers raise several unrelated exception types
        raise InputError(
            f"{where} is not valid OpenQASM {version}: {error}", field="circuits"
        ) from error
    raise InputError(
        f"{where} is OpenQASM {version}; only OpenQASM 2 and 3 are understood", field="circuits"
    )
