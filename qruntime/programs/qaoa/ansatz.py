"""The QAOA circuit of a diagonal cost operator: ``reps`` layers of cost and mixer evolution."""

from __future__ import annotations

from qiskit import QuantumCircuit
from qiskit.circuit import Parameter, ParameterVector
from qiskit.circuit.library import PauliEvolutionGate
from qiskit.quantum_info import SparsePauliOp

from qruntime.errors import InputError


def check_diagonal(operator: SparsePauliOp) -> None:
    """Refuse an operator with ``X`` or ``Y`` terms: QAOA minimizes a classical cost."""
    if operator.paulis.x.any():
        labels = [label for label in operator.paulis.to_labels() if set(label) - {"I", "Z"}]
        raise InputError(
            "operator must be diagonal (only I and Z terms), as the cost function of a "
            f"classical problem is; it has {', '.join(labels[:3])}"
            + (" and more" if len(labels) > 3 else ""),
            field="operator",
        )


def terms_by_weight(operator: SparsePauliOp) -> dict[int, SparsePauliOp]:
    """The non-identity terms of ``operator``, by how many qubits each acts on."""
    simplified = operator.simplify(atol=1e-12)
    by_weight: dict[int, list[tuple[str, complex]]] = {}
    for label, coeff in simplified.to_list():
        weight = len(label) - label.count("I")
        if weight:
            by_weight.setdefault(weight, []).append((label, coeff))
    return {
        weight: SparsePauliOp.from_list(terms, num_qubits=operator.num_qubits)
        for weight, terms in sorted(by_weight.items())
    }


def qaoa_circuit(
    cost: SparsePauliOp, reps: int, parts: dict[int, SparsePauliOp] | None = None
) -> tuple[QuantumCircuit, tuple[Parameter, ...]]:
    """The QAOA state ``Π_l exp(-i beta_l ΣX) exp(-i gamma_l C) H^n |0>``, no measurements.

    The cost evolution of each layer is one ``PauliEvolutionGate`` per term weight, the
    two-qubit terms first, so that swap strategies can route them as one commuting block. The
    parameters are the ``reps`` mixer angles (beta, named ``β[l]``) then the ``reps`` cost
    angles (gamma), named and ordered as in Qiskit's ``QAOAAnsatz``. ``parts`` is
    ``terms_by_weight(cost)`` when the caller has it already.
    """
    num_qubits = cost.num_qubits
    betas = ParameterVector("β", reps)
    gammas = ParameterVector("γ", reps)  # noqa: RUF001 (Qiskit's name for the cost angles)
    if parts is None:
        parts = terms_by_weight(cost)
    ordered = [parts[w] for w in sorted(parts, key=lambda w: (w != 2, w))]
    circuit = QuantumCircuit(num_qubits, name="qaoa")
    circuit.h(range(num_qubits))
    for layer in range(reps):
        for part in ordered:
            circuit.append(PauliEvolutionGate(part, time=gammas[layer]), range(num_qubits))
        circuit.rx(2 * betas[layer], range(num_qubits))
    return circuit, (*betas, *gammas)
