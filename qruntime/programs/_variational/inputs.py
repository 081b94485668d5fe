"""The inputs that vqe and qaoa share, checked, with errors that name the input to fix."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np
from numpy.typing import NDArray
from qiskit import QuantumCircuit
from qiskit.converters import circuit_to_dag, dag_to_circuit
from qiskit.exceptions import QiskitError
from qiskit.quantum_info import Operator, Pauli, PauliList, SparsePauliOp

from qruntime.algorithms.expectation import Estimate
from qruntime.algorithms.optimizers import Optimizer, OptionError, load_optimizer
from qruntime.errors import InputError
from qruntime.programs.circuit_runner.options import as_int

_OPERATOR_FORMS = (
    "a SparsePauliOp (or the settings of a PauliSumOp, PauliOp or SummedOp that IBM's clients "
    "sent), a Pauli, or a list of [label, coefficient] pairs such as [['ZZ', 1.0], ['XI', 0.5]]"
)


def load_operator(value: Any, field: str, num_qubits: int | None = None) -> SparsePauliOp:
    """An operator input as a Hermitian ``SparsePauliOp`` on ``num_qubits`` qubits if given."""
    operator = _as_sparse_pauli_op(value, field)
    if operator.num_qubits is None or operator.num_qubits == 0:
        raise InputError(f"{field} acts on no qubits; it needs at least one", field=field)
    coeffs = operator.simplify(atol=1e-12).coeffs
    if np.any(np.abs(np.imag(coeffs)) > 1e-10):
        raise InputError(
            f"{field} is not Hermitian: after adding up equal terms some coefficients are "
            "complex; the expectation value of such an operator is not a real energy",
            field=field,
        )
    if num_qubits is not None and operator.num_qubits != num_qubits:
        raise InputError(
            f"{field} acts on {operator.num_qubits} qubits but the circuit has {num_qubits}; "
            "they must match",
            field=field,
        )
    return operator


def _as_sparse_pauli_op(value: Any, field: str) -> SparsePauliOp:
    if value is None:
        raise InputError(f"{field} is required: give {_OPERATOR_FORMS}", field=field)
    if isinstance(value, SparsePauliOp):
        return value
    if isinstance(value, Pauli | PauliList):
        return SparsePauliOp(value)
    if isinstance(value, Operator):
        return SparsePauliOp.from_operator(value)
    if isinstance(value, list | tuple) and value:
        try:
            return SparsePauliOp.from_list([(str(label), coeff) for label, coeff in value])
        except (TypeError, ValueError, QiskitError) as error:
            raise InputError(
                f"{field} as a list must hold [label, coefficient] pairs of Pauli labels of one "
                f"length, such as ['ZZ', 1.0]: {error}",
                field=field,
            ) from None
    raise InputError(f"{field} must be {_OPERATOR_FORMS}, not {type(value).__name__}", field=field)


AuxOperators = list[SparsePauliOp | None] | dict[str, SparsePauliOp | None]


def load_aux_operators(value: Any, num_qubits: int) -> AuxOperators | None:
    """``aux_operators``: None, or a list or a dict by name of operators (None entries kept)."""
    field = "aux_operators"
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {
            str(name): None
            if item is None
            else load_operator(item, f"{field}[{name!r}]", num_qubits)
            for name, item in value.items()
        }
    if isinstance(value, SparsePauliOp | Pauli):
        value = [value]
    if not isinstance(value, list | tuple):
        raise InputError(
            f"{field} must be a list of operators or a dict of them by name, not "
            f"{type(value).__name__}",
            field=field,
        )
    return [
        None if item is None else load_operator(item, f"{field}[{index}]", num_qubits)
        for index, item in enumerate(value)
    ]


def aux_operator_list(aux: AuxOperators | None) -> list[SparsePauliOp]:
    """The auxiliary operators given, in order, None entries left out."""
    if aux is None:
        return []
    values = aux.values() if isinstance(aux, dict) else aux
    return [operator for operator in values if operator is not None]


def aux_operator_values(aux: AuxOperators | None, estimates: Sequence[Estimate]) -> Any:
    """``[mean, std]`` of each auxiliary operator, in the shape ``aux_operators`` was given.

    ``estimates`` are those of :func:`aux_operator_list`'s operators, in its order.
    """
    if aux is None:
        return None
    pairs = iter([[estimate.mean, estimate.std] for estimate in estimates])
    if isinstance(aux, dict):
        return {name: None if op is None else next(pairs) for name, op in aux.items()}
    return [None if operator is None else next(pairs) for operator in aux]


def load_ansatz(value: Any) -> QuantumCircuit:
    """The ``ansatz``: a parameterized circuit, final measurements removed."""
    field = "ansatz"
    if value is None:
        raise InputError("ansatz is required: a QuantumCircuit with parameters", field=field)
    if not isinstance(value, QuantumCircuit):
        raise InputError(
            f"ansatz must be a QuantumCircuit with parameters, not {type(value).__name__}",
            field=field,
        )
    if value.num_parameters == 0:
        raise InputError(
            f"ansatz {value.name!r} has no parameters, so there is nothing to optimize; give a "
            "circuit with Parameters (such as qiskit.circuit.library.efficient_su2)",
            field=field,
        )
    circuit = value.remove_final_measurements(inplace=False)
    assert circuit is not None
    if any(inst.clbits or inst.operation.name == "reset" for inst in circuit.data):
        raise InputError(
            f"ansatz {value.name!r} has mid-circuit measurements, resets or classically "
            "controlled gates; it must only prepare a state: the program adds the measurements",
            field=field,
        )
    return _without_classical_bits(circuit)


def _without_classical_bits(circuit: QuantumCircuit) -> QuantumCircuit:
    """``circuit`` without its (idle) classical bits and registers; the program adds its own."""
    if not circuit.num_clbits:
        return circuit
    dag = circuit_to_dag(circuit)
    dag.remove_cregs(*dag.cregs.values())
    dag.remove_clbits(*dag.clbits)
    stripped: QuantumCircuit = dag_to_circuit(dag)
    return stripped


def load_initial_point(
    value: Any,
    num_parameters: int,
    rng: np.random.Generator,
    *,
    low: float,
    high: float,
    order: str,
) -> NDArray[np.float64]:
    """``initial_point``: values, one per parameter, or ``"random"``/None for uniform ones.

    ``order`` tells the user, in an error, the order the values go in.
    """
    field = "initial_point"
    if value is None or (isinstance(value, str) and value.lower() == "random"):
        return rng.uniform(low, high, size=num_parameters)
    if isinstance(value, str):
        raise InputError(
            f"initial_point must be 'random' or a list of numbers, not {value!r}", field=field
        )
    try:
        point = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise InputError(
            f"initial_point must be 'random' or a list of {num_parameters} numbers, not {value!r}",
            field=field,
        ) from None
    if point.ndim != 1 or point.size != num_parameters:
        raise InputError(
            f"initial_point has {point.size} values but there are {num_parameters} "
            f"parameters; give one value per parameter: {order}",
            field=field,
        )
    if not np.all(np.isfinite(point)):
        raise InputError("initial_point holds values that are not finite numbers", field=field)
    return point


def load_optimizer_input(value: Any, default: Optimizer) -> Optimizer:
    """``optimizer``, with errors as :class:`InputError` naming the input."""
    try:
        return load_optimizer(value, default)
    except OptionError as error:
        raise InputError(f"optimizer: {error}", field="optimizer") from None


def check_flag(value: Any, field: str, default: bool) -> bool:
    """A true/false input; None gives ``default``."""
    if value is None:
        return default
    if not isinstance(value, bool | np.bool_):
        raise InputError(f"{field} must be true or false, not {value!r}", field=field)
    return bool(value)


def check_fraction(value: Any, field: str, default: float) -> float:
    """A number in (0, 1]; None gives ``default``."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, Real) or not 0 < float(value) <= 1:
        raise InputError(
            f"{field} must be a number greater than 0 and at most 1, not {value!r}", field=field
        )
    return float(value)


def check_positive_int(value: Any, field: str, default: int) -> int:
    """A whole number of at least 1; None gives ``default``."""
    if value is None:
        return default
    number = as_int(value)
    if number is None or number < 1:
        raise InputError(f"{field} must be a whole number at least 1, not {value!r}", field=field)
    return number


@dataclass(frozen=True)
class Seeds:
    """The random streams of a job, all derived from its ``seed`` input.

    Without a seed, the initial point and the optimizer draw from fresh entropy and the backend
    samples unseeded; with one, a job is reproducible: same seed, same inputs, same result.
    """

    seed: int | None
    initial_point: np.random.Generator
    optimizer: np.random.Generator
    simulator: np.random.Generator | None

    @classmethod
    def from_input(cls, value: Any) -> Seeds:
        """Seeds from the ``seed`` input: None, or a whole number at least 0."""
        seed = None if value is None else as_int(value)
        if value is not None and (seed is None or seed < 0):
            raise InputError(f"seed must be a whole number at least 0, not {value!r}", field="seed")
        initial, optimizer, simulator = np.random.SeedSequence(seed).spawn(3)
        return cls(
            seed=seed,
            initial_point=np.random.default_rng(initial),
            optimizer=np.random.default_rng(optimizer),
            simulator=None if seed is None else np.random.default_rng(simulator),
        )


def reject_unknown(inputs: Mapping[str, Any], program: str, known: Sequence[str]) -> None:
    """Refuse inputs the program does not take, listing those it does."""
    unknown = sorted(set(inputs) - set(known))
    if unknown:
        raise InputError(
            f"{program} has no input {', '.join(map(repr, unknown))}; its inputs are: "
            + ", ".join(sorted(known)),
            field=unknown[0],
        )
