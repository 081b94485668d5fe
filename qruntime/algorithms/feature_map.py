"""The covariant feature map of quantum kernel alignment (Glick et al., arXiv:2105.03406).

A data point of ``feature_dimension`` numbers is two rotation angles per qubit. The circuit first
prepares a fiducial state, a graph state whose shape is set by the kernel parameters (λ, one per
qubit): ``ry(-λ_i)`` on every qubit, then ``cz`` on every edge of the entangler map. It then
rotates each qubit ``i`` by ``rz(-2 x[2i+1])`` followed by ``rx(-2 x[2i])``. At λ = π/2 the
fiducial state is a graph state, stabilized by the graph's stabilizer group.

The same class serves the quantum-kernel-alignment program and its users: an instance travels as
the JSON of :meth:`FeatureMap.to_json`, which the program reads back with
:meth:`FeatureMap.from_json`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations
from numbers import Integral
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from qiskit import QuantumCircuit, QuantumRegister
from qiskit.circuit import ParameterExpression, ParameterVector

from qruntime.errors import InputError

EntanglerMap = list[list[int]]
"""Pairs of qubits ``[source, target]``, each joined by a ``cz`` in the fiducial state."""


class FeatureMap:
    """The feature map of quantum kernel alignment.

    Args:
        feature_dimension: the number of features of a data point; even, two per qubit.
        entangler_map: the pairs of qubits ``[source, target]`` joined by a ``cz``, in order;
            every pair of qubits when not given.

    Raises:
        InputError: ``feature_dimension`` is not a positive even integer, or a pair of the
            entangler map is not two different qubits of the map.
    """

    def __init__(
        self, feature_dimension: int, entangler_map: Iterable[Sequence[int]] | None = None
    ) -> None:
        if not _is_whole(feature_dimension) or feature_dimension < 2 or feature_dimension % 2:
            raise InputError(
                "Feature dimension must be an even integer: two features per qubit; "
                f"got {feature_dimension!r}.",
                field="feature_map",
            )
        self._feature_dimension = int(feature_dimension)
        self._num_qubits = self._feature_dimension // 2
        if entangler_map is None:
            pairs = [[i, j] for i, j in combinations(range(self._num_qubits), 2)]
        else:
            pairs = [_checked_pair(pair, self._num_qubits) for pair in entangler_map]
        self._entangler_map: EntanglerMap = pairs

    @property
    def feature_dimension(self) -> int:
        """The number of features of a data point."""
        return self._feature_dimension

    @property
    def num_qubits(self) -> int:
        """The number of qubits: half the feature dimension."""
        return self._num_qubits

    @property
    def num_parameters(self) -> int:
        """The number of kernel parameters: one per qubit."""
        return self._num_qubits

    @property
    def entangler_map(self) -> EntanglerMap:
        """The pairs of qubits joined by a ``cz``, in the order they are applied (a copy)."""
        return [list(pair) for pair in self._entangler_map]

    def kernel_parameters(self, parameters: ArrayLike) -> NDArray[np.float64]:
        """One kernel parameter per qubit: ``parameters`` itself, or its single value repeated.

        Raises:
            InputError: ``parameters`` holds neither one value nor ``num_parameters`` values.
        """
        values = np.asarray(parameters, dtype=float).reshape(-1)
        if values.size == 1:
            return np.full(self._num_qubits, values[0])
        if values.size != self._num_qubits:
            raise self._parameters_error(values.size)
        return values

    def _parameters_error(self, count: int) -> InputError:
        return InputError(
            f"The feature map takes {self._num_qubits} kernel parameters (one per qubit) or "
            f"a single one for every qubit; got {count}.",
            field="initial_kernel_parameters",
        )

    def construct_circuit(
        self,
        x: ArrayLike | ParameterVector,
        parameters: ArrayLike | ParameterVector,
        q: QuantumRegister | None = None,
        inverse: bool = False,
        name: str | None = None,
    ) -> QuantumCircuit:
        """The circuit that maps the data point ``x`` to its quantum state.

        Args:
            x: the data point, ``feature_dimension`` numbers.
            parameters: the kernel parameters: one per qubit, or one for every qubit.
            q: the register to build the circuit on; a new one named ``q`` when not given.
            inverse: return the inverse of the circuit instead.
            name: the circuit's name.

        ``x`` and ``parameters`` may also be circuit parameters (a ``ParameterVector``, say),
        for a parameterized circuit to bind later.

        Raises:
            InputError: ``x`` or ``parameters`` has the wrong number of values.
        """
        lambdas = _values(parameters)
        if len(lambdas) == 1:
            lambdas = lambdas * self._num_qubits
        elif len(lambdas) != self._num_qubits:
            raise self._parameters_error(len(lambdas))
        point = _values(x)
        if len(point) != self._feature_dimension:
            raise InputError(
                f"A data point of this feature map has {self._feature_dimension} features; "
                f"got {len(point)}.",
                field="data",
            )
        register = q if q is not None else QuantumRegister(self._num_qubits, name="q")
        circuit = QuantumCircuit(register, name=name)
        for qubit in range(self._num_qubits):
            circuit.ry(-lambdas[qubit], register[qubit])
        for source, target in self._entangler_map:
            circuit.cz(register[source], register[target])
        for qubit in range(self._num_qubits):
            circuit.rz(-2 * point[2 * qubit + 1], register[qubit])
            circuit.rx(-2 * point[2 * qubit], register[qubit])
        return circuit.inverse() if inverse else circuit

    def to_dict(self) -> dict[str, Any]:
        """The feature map as ``{"feature_dimension", "entangler_map"}``."""
        return {"feature_dimension": self._feature_dimension, "entangler_map": self.entangler_map}

    def to_json(self) -> str:
        """The feature map as JSON: how it travels to the program (see :meth:`from_json`)."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, data: str) -> FeatureMap:
        """Rebuild a feature map from the JSON of :meth:`to_json`."""
        try:
            fields = json.loads(data)
        except json.JSONDecodeError as error:
            raise InputError(
                f"The feature map is not valid JSON: {error}.", field="feature_map"
            ) from error
        return cls.from_dict(fields)

    @classmethod
    def from_dict(cls, fields: Mapping[str, Any]) -> FeatureMap:
        """Rebuild a feature map from ``{"feature_dimension", "entangler_map"}``."""
        if not isinstance(fields, Mapping) or "feature_dimension" not in fields:
            raise InputError(
                'A feature map is an object {"feature_dimension": ..., "entangler_map": ...}; '
                f"got {fields!r}.",
                field="feature_map",
            )
        unknown = set(fields) - {"feature_dimension", "entangler_map"}
        if unknown:
            raise InputError(
                f"A feature map has feature_dimension and entangler_map only; got also "
                f"{', '.join(sorted(unknown))}.",
                field="feature_map",
            )
        return cls(fields["feature_dimension"], fields.get("entangler_map"))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FeatureMap):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash((self._feature_dimension, tuple(map(tuple, self._entangler_map))))

    def __repr__(self) -> str:
        return (
            f"FeatureMap(feature_dimension={self._feature_dimension}, "
            f"entangler_map={self._entangler_map})"
        )


def _is_whole(value: object) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _checked_pair(pair: object, num_qubits: int) -> list[int]:
    values: list[Any] = (
        list(pair) if isinstance(pair, Sequence) and not isinstance(pair, str) else []
    )
    if (
        len(values) != 2
        or not all(_is_whole(v) and 0 <= v < num_qubits for v in values)
        or values[0] == values[1]
    ):
        raise InputError(
            f"Each pair of the entangler map must be two different qubits between 0 and "
            f"{num_qubits - 1}; got {pair!r}.",
            field="feature_map",
        )
    return [int(values[0]), int(values[1])]


def _values(values: ArrayLike | ParameterVector) -> list[Any]:
    """Numbers as floats; circuit parameters as they are."""
    if isinstance(values, ParameterVector):
        return list(values)
    items = np.asarray(values, dtype=object).reshape(-1)
    return [v if isinstance(v, ParameterExpression) else float(v) for v in items]
