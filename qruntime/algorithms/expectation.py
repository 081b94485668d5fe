"""Expectation values of Pauli operators estimated from measurement outcomes.

A :class:`MeasurementPlan` puts the Pauli terms of one or more operators in qubit-wise commuting
groups (:mod:`qruntime.algorithms.grouping`), gives the circuit that measures each group (the
state, a basis change, measurements of the qubits the group acts on) and turns the outcome
distribution of every group into each operator's mean and standard deviation.

For diagonal operators (QAOA's cost), :class:`DiagonalOperator` gives the value of every measured
bitstring, and :func:`cvar` the conditional value at risk of a distribution of them.

Outcomes are integers whose bit ``i`` is classical bit ``i`` (as Qiskit's counts, read as binary
numbers); a :data:`Distribution` pairs them with their probabilities, or with quasi-probabilities
after measurement error mitigation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray
from qiskit import ClassicalRegister, QuantumCircuit
from qiskit.quantum_info import Pauli, SparsePauliOp

from qruntime.algorithms.grouping import qubit_wise_groups

Distribution = tuple[NDArray[np.int64], NDArray[np.float64]]
"""Outcomes (integers, bit ``i`` = classical bit ``i``) and their (quasi-)probabilities."""


@dataclass(frozen=True)
class Estimate:
    """An estimated expectation value and the standard deviation of the estimate."""

    mean: float
    std: float


@dataclass(frozen=True)
class MeasurementGroup:
    """Pauli terms measured together: ``basis[q]`` is the Pauli measured on qubit ``q``.

    ``qubits`` are the qubits that are measured (those whose basis is not ``"I"``), in the order
    of the classical bits that hold them.
    """

    basis: tuple[str, ...]
    qubits: tuple[int, ...]

    @property
    def label(self) -> str:
        """The basis as a Pauli label, qubit 0 rightmost (``"ZZX"``...)."""
        return "".join(reversed(self.basis))

    def circuit(self, state: QuantumCircuit) -> QuantumCircuit:
        """``state`` followed by the basis change and the measurements of this group."""
        measured = state.copy_empty_like(name=f"{state.name}_{self.label}")
        measured.add_register(ClassicalRegister(len(self.qubits), "meas"))
        measured.compose(state, inplace=True)
        for clbit, qubit in enumerate(self.qubits):
            if self.basis[qubit] == "Y":
                measured.sdg(qubit)
            if self.basis[qubit] in ("X", "Y"):
                measured.h(qubit)
            measured.measure(qubit, clbit)
        return measured


TABLE_ENTRIES = 1 << 22
"""Terms whose value for every outcome takes at most this many signs to compute (outcomes of
the bits they act on, times terms) get that table computed once, then looked up: an optimizer
estimates the same terms at every step."""


@dataclass(frozen=True)
class _Terms:
    """Terms of an operator: a clbit mask and a coefficient each."""

    masks: NDArray[np.int64]
    coeffs: NDArray[np.float64]

    @cached_property
    def _table(self) -> NDArray[np.float64] | None:
        width = int(np.bitwise_or.reduce(self.masks)).bit_length() if self.masks.size else 0
        if (1 << width) * max(self.masks.size, 1) > TABLE_ENTRIES:
            return None
        table: NDArray[np.float64] = _signs(np.arange(1 << width), self.masks).T @ self.coeffs
        return table

    def values(self, outcomes: NDArray[np.int64]) -> NDArray[np.float64]:
        """The terms' sum for each outcome: each coefficient, negated when the outcome's bits
        under its mask have odd parity."""
        table = self._table
        if table is None:
            values: NDArray[np.float64] = _signs(outcomes, self.masks).T @ self.coeffs
            return values
        looked_up: NDArray[np.float64] = table[outcomes & (table.size - 1)]
        return looked_up  # bits above every mask change no sign


@dataclass(frozen=True)
class MeasurementPlan:
    """How to measure operators on a state: one group per basis, shared by all the operators."""

    num_qubits: int
    groups: tuple[MeasurementGroup, ...]
    constants: tuple[float, ...]
    terms: tuple[tuple[_Terms, ...], ...]

    @classmethod
    def for_operators(cls, operators: Sequence[SparsePauliOp]) -> MeasurementPlan:
        """Group the terms of every operator (Hermitian, on the same qubits) together.

        A Pauli string that several operators share is measured once. Imaginary parts of the
        coefficients are dropped: the operators are taken to be Hermitian.
        """
        if not operators:
            raise ValueError("a measurement plan needs at least one operator")
        num_qubits = operators[0].num_qubits
        real_terms = [_real_terms(operator) for operator in operators]
        distinct: dict[str, Pauli] = {}
        for terms in real_terms:
            for label, _ in terms:
                if set(label) != {"I"}:
                    distinct.setdefault(label, Pauli(label))
        grouped = qubit_wise_groups(list(distinct.values()))
        groups = tuple(_group_of(members, num_qubits) for members in grouped)
        group_of_label = {
            member.to_label(): index for index, members in enumerate(grouped) for member in members
        }
        constants = []
        plan_terms = []
        for terms in real_terms:
            constant = 0.0
            per_group: list[tuple[list[int], list[float]]] = [([], []) for _ in groups]
            for label, coeff in terms:
                if set(label) == {"I"}:
                    constant += coeff
                    continue
                index = group_of_label[label]
                per_group[index][0].append(_clbit_mask(label, groups[index]))
                per_group[index][1].append(coeff)
            constants.append(constant)
            plan_terms.append(
                tuple(
                    _Terms(np.array(masks, dtype=np.int64), np.array(coeffs, dtype=float))
                    for masks, coeffs in per_group
                )
            )
        return cls(num_qubits, groups, tuple(constants), tuple(plan_terms))

    def circuits(self, state: QuantumCircuit) -> list[QuantumCircuit]:
        """One circuit per group: ``state`` measured in the group's basis."""
        return [group.circuit(state) for group in self.groups]

    def estimate(self, distributions: Sequence[Distribution], shots: int) -> list[Estimate]:
        """Each operator's estimate from the outcome distribution of every group.

        The variance of an operator's estimate adds, over the groups, the variance of the
        group's part of the operator (as an observable of one shot) divided by ``shots``.
        """
        if len(distributions) != len(self.groups):
            raise ValueError(f"expected {len(self.groups)} distributions, got {len(distributions)}")
        estimates = []
        for constant, terms in zip(self.constants, self.terms, strict=True):
            mean = constant
            variance = 0.0
            for (outcomes, probabilities), group_terms in zip(distributions, terms, strict=True):
                if group_terms.coeffs.size == 0:
                    continue
                values = group_terms.values(outcomes)
                group_mean = float(probabilities @ values)
                mean += group_mean
                variance += max(float(probabilities @ values**2) - group_mean**2, 0.0)
            estimates.append(Estimate(mean, math.sqrt(variance / shots)))
        return estimates


@dataclass(frozen=True)
class DiagonalOperator:
    """An operator of ``I`` and ``Z`` terms only: a value for every computational basis state."""

    num_qubits: int
    constant: float
    masks: NDArray[np.int64]
    coeffs: NDArray[np.float64]

    @classmethod
    def from_operator(cls, operator: SparsePauliOp) -> DiagonalOperator:
        """The diagonal of ``operator``; ValueError if a term holds an ``X`` or a ``Y``."""
        if np.any(operator.paulis.x):
            raise ValueError("the operator has terms with X or Y; only I and Z terms are diagonal")
        constant = 0.0
        masks: list[int] = []
        coeffs: list[float] = []
        for label, coeff in _real_terms(operator):
            mask = sum(1 << qubit for qubit, char in enumerate(reversed(label)) if char == "Z")
            if mask == 0:
                constant += coeff
            else:
                masks.append(mask)
                coeffs.append(coeff)
        return cls(
            operator.num_qubits,
            constant,
            np.array(masks, dtype=np.int64),
            np.array(coeffs, dtype=float),
        )

    @cached_property
    def _terms(self) -> _Terms:
        return _Terms(self.masks, self.coeffs)

    def values(self, outcomes: NDArray[np.int64]) -> NDArray[np.float64]:
        """The operator's value for each outcome (bit ``q`` of an outcome = qubit ``q``)."""
        values: NDArray[np.float64] = self.constant + self._terms.values(outcomes)
        return values


def cvar(
    values: NDArray[np.float64], probabilities: NDArray[np.float64], alpha: float, shots: int
) -> Estimate:
    """The mean of the lowest ``alpha`` fraction of a distribution of ``values`` (CVaR_alpha).

    ``alpha = 1`` gives the mean. The standard deviation treats the tail as ``alpha * shots``
    samples of it (an estimate: the tail's edge moves with the samples too).
    """
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must be in (0, 1], not {alpha}")
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    weights = np.clip(probabilities[order], 0.0, None)
    total = float(weights.sum())
    if total <= 0:
        raise ValueError("the distribution has no probability mass")
    weights = weights / total
    before = np.concatenate(([0.0], np.cumsum(weights)[:-1]))
    tail = np.clip(np.minimum(weights, alpha - before), 0.0, None)
    mass = float(tail.sum())
    mean = float(tail @ sorted_values) / mass
    variance = float(tail @ (sorted_values - mean) ** 2) / mass
    return Estimate(mean, math.sqrt(variance / max(alpha * shots, 1.0)))


def _real_terms(operator: SparsePauliOp) -> list[tuple[str, float]]:
    simplified = operator.simplify(atol=1e-12)
    coeffs = simplified.coeffs * (-1j) ** simplified.paulis.phase
    labels = simplified.paulis.copy()
    labels.phase = 0
    return [
        (label, float(np.real(coeff)))
        for label, coeff in zip(labels.to_labels(), coeffs, strict=True)
        if np.real(coeff) != 0
    ]


def _group_of(members: Sequence[Pauli], num_qubits: int) -> MeasurementGroup:
    basis = ["I"] * num_qubits
    for member in members:
        for qubit, char in enumerate(reversed(member.to_label())):
            if char != "I":
                basis[qubit] = char
    qubits = tuple(q for q in range(num_qubits) if basis[q] != "I")
    return MeasurementGroup(tuple(basis), qubits)


def _clbit_mask(label: str, group: MeasurementGroup) -> int:
    acts = {qubit for qubit, char in enumerate(reversed(label)) if char != "I"}
    return sum(1 << clbit for clbit, qubit in enumerate(group.qubits) if qubit in acts)


def _signs(outcomes: NDArray[np.int64], masks: NDArray[np.int64]) -> NDArray[np.float64]:
    """``signs[t, o]``: +1 or -1, the parity of the bits of outcome ``o`` under mask ``t``."""
    bits = outcomes[None, :] & masks[:, None]
    for shift in (32, 16, 8, 4, 2, 1):
        bits ^= bits >> shift
    signs: NDArray[np.float64] = (1 - 2 * (bits & 1)).astype(np.float64)
    return signs
