"""Quantum kernel matrices of a :class:`~qruntime.algorithms.FeatureMap`.

The kernel entry of two data points ``x_i`` and ``x_j`` is the probability of measuring all qubits
in ``0`` after the feature map circuit of ``x_i`` followed by the inverse of that of ``x_j``: the
overlap ``|<ψ(x_j)|ψ(x_i)>|²`` of their states. On a backend it is estimated from ``shots``
samples; on a noiseless statevector simulator, or with no backend at all, it is exact.

The quantum-kernel-alignment program computes its kernels with this class, so a kernel built here
for test data matches the program's aligned kernel entry for entry.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterVector
from qiskit.quantum_info import Statevector
from qiskit.transpiler import PassManager, generate_preset_pass_manager
from qiskit.transpiler.passes import Optimize1qGatesDecomposition
from qiskit_aer import AerSimulator

from qruntime.algorithms.feature_map import FeatureMap
from qruntime.errors import InputError, QRuntimeError
from qruntime.program.backend import ProgramBackend

DEFAULT_SHOTS = 8192
"""Shots per kernel entry, as in IBM's program."""

InitialLayout = Sequence[int] | Mapping[int, int]
"""Physical qubit of each feature-map qubit: a list in qubit order, or ``{qubit: physical}``."""


def computes_exactly(backend: Any) -> bool:
    """Whether kernel entries on ``backend`` are exact probabilities rather than sampled.

    They are with no backend (computed in this process), on ``simulator_statevector`` and on a
    noiseless ``AerSimulator`` whose method is ``statevector``; everywhere else they are sampled.
    """
    if backend is None:
        return True
    if isinstance(backend, ProgramBackend):
        return bool(backend.configuration().get("simulation_method") == "statevector")
    if type(backend) is AerSimulator:
        options = backend.options
        return bool(options.method == "statevector" and options.noise_model is None)
    return False


class KernelMatrix:
    """Builds quantum kernel matrices of a feature map on a backend.

    Args:
        feature_map: the feature map whose kernel to compute.
        backend: where to run the circuits; ``None`` computes exact kernels in this process.
        initial_layout: the physical qubit of each feature-map qubit on ``backend``.
        shots: samples per kernel entry, on backends that sample.
        seed_simulator: seed of a simulator's sampling; each circuit this object runs gets a
            seed of its own derived from it, so that a run is reproducible.
    """

    def __init__(
        self,
        feature_map: FeatureMap,
        backend: Any = None,
        initial_layout: InitialLayout | None = None,
        *,
        shots: int = DEFAULT_SHOTS,
        seed_simulator: int | None = None,
    ) -> None:
        self.feature_map = feature_map
        self.backend = backend
        self.initial_layout = _layout_list(initial_layout, feature_map.num_qubits)
        self.shots = shots
        self.seed_simulator = seed_simulator
        self.exact = computes_exactly(backend)
        self._compiled: _KernelTemplate | None = None
        self._circuits_run = 0

    def construct_kernel_matrix(
        self, x1_vec: ArrayLike, x2_vec: ArrayLike, parameters: ArrayLike
    ) -> NDArray[np.float64]:
        """The kernel matrix between the rows of ``x1_vec`` and those of ``x2_vec``.

        Entry ``(i, j)`` is the kernel of ``x1_vec[i]`` and ``x2_vec[j]`` with the kernel
        parameters ``parameters`` (one per qubit, or one for every qubit). When both sets of
        points are the same, only the upper triangle is computed: the diagonal is 1 and the
        matrix symmetric.
        """
        return self.construct_kernel_matrices(x1_vec, x2_vec, [parameters])[0]

    def construct_kernel_matrices(
        self, x1_vec: ArrayLike, x2_vec: ArrayLike, parameter_sets: Sequence[ArrayLike]
    ) -> list[NDArray[np.float64]]:
        """One kernel matrix per set of kernel parameters, their circuits run together.

        On a backend every circuit goes to one ``backend.run``, or to as few as the backend's
        ``max_circuits`` allows.
        """
        x1 = _points(x1_vec, self.feature_map, "x1_vec")
        x2 = _points(x2_vec, self.feature_map, "x2_vec")
        lambdas = [self.feature_map.kernel_parameters(p) for p in parameter_sets]
        symmetric = x1.shape == x2.shape and bool(np.array_equal(x1, x2))
        if self.backend is None:
            return [_exact_kernel(self.feature_map, x1, x2, lam, symmetric) for lam in lambdas]

        pairs = _pairs(len(x1), len(x2), symmetric)
        template = self._template()
        circuits = template.finish(
            [template.bind(x1[i], x2[j], lam, f"{i}_{j}") for lam in lambdas for i, j in pairs]
        )
        values = self._run(circuits)
        matrices = []
        for index in range(len(lambdas)):
            chunk = values[index * len(pairs) : (index + 1) * len(pairs)]
            matrices.append(_fill(chunk, pairs, len(x1), len(x2), symmetric))
        return matrices

    def _template(self) -> _KernelTemplate:
        # Built and transpiled once: every kernel circuit is this one with other values bound.
        if self._compiled is None:
            pass_manager = generate_preset_pass_manager(
                optimization_level=1, backend=self.backend, initial_layout=self.initial_layout
            )
            self._compiled = _KernelTemplate(
                self.feature_map, self.exact, pass_manager, self.backend.target
            )
        return self._compiled

    def _run(self, circuits: list[QuantumCircuit]) -> list[float]:
        """The probability of all zeros of each circuit, run on the backend."""
        if not circuits:  # a kernel of a single point with itself
            return []
        limit = getattr(self.backend, "max_circuits", None) or len(circuits)
        values: list[float] = []
        for start in range(0, len(circuits), limit):
            values.extend(self._run_batch(circuits[start : start + limit]))
        return values

    def _run_batch(self, circuits: list[QuantumCircuit]) -> list[float]:
        options: dict[str, Any] = {"shots": 1 if self.exact else self.shots}
        if self.seed_simulator is not None:
            options["seed_simulator"] = self.seed_simulator + self._circuits_run
        self._circuits_run += len(circuits)
        result = self.backend.run(circuits, **options).result()
        if not result.success:
            raise QRuntimeError(
                f"{self.backend.name} could not run the kernel circuits: {result.status}"
            )
        if self.exact:
            return [float(result.data(i)["amplitudes_squared"][0]) for i in range(len(circuits))]
        return [
            result.data(i).get("counts", {}).get("0x0", 0) / self.shots
            for i in range(len(circuits))
        ]


class _KernelTemplate:
    """The kernel circuit with the two data points and the kernel parameters left unbound.

    The feature map of ``x_i`` followed by the inverse of that of ``x_j``, then either a
    measurement of every qubit or, on an exact simulator, the saved probability of all zeros;
    transpiled for the backend once, and bound to each pair's values. Transpiling one circuit
    instead of one per pair makes a step of the alignment seconds faster; what it cannot do with
    unbound angles, merging runs of single-qubit gates, :meth:`finish` does on the bound circuits.
    """

    def __init__(
        self, feature_map: FeatureMap, exact: bool, pass_manager: Any, target: Any
    ) -> None:
        x_i = ParameterVector("x_i", feature_map.feature_dimension)
        x_j = ParameterVector("x_j", feature_map.feature_dimension)
        lam = ParameterVector("lambda", feature_map.num_parameters)
        circuit = feature_map.construct_circuit(x_i, lam)
        circuit.compose(feature_map.construct_circuit(x_j, lam, inverse=True), inplace=True)
        if exact:
            circuit.save_amplitudes_squared([0])
        else:
            circuit.measure_all()
        self.circuit: QuantumCircuit = pass_manager.run(circuit)
        # Where each of the circuit's parameters (in the circuit's order) is in [x_i, x_j, λ].
        position = {p: index for index, p in enumerate([*x_i, *x_j, *lam])}
        self._order = np.array([position[p] for p in self.circuit.parameters], dtype=int)
        self._single_qubit_runs = PassManager([Optimize1qGatesDecomposition(target=target)])

    def bind(
        self,
        x_i: NDArray[np.float64],
        x_j: NDArray[np.float64],
        lam: NDArray[np.float64],
        name: str,
    ) -> QuantumCircuit:
        """The kernel circuit of ``x_i`` and ``x_j`` with kernel parameters ``lam``."""
        values = np.concatenate([x_i, x_j, lam])[self._order]
        bound = self.circuit.assign_parameters(values)
        bound.name = name
        return bound

    def finish(self, circuits: list[QuantumCircuit]) -> list[QuantumCircuit]:
        """Merge each bound circuit's runs of single-qubit gates, as transpiling it would."""
        finished: list[QuantumCircuit] = self._single_qubit_runs.run(circuits)
        return finished


def _exact_kernel(
    feature_map: FeatureMap,
    x1: NDArray[np.float64],
    x2: NDArray[np.float64],
    lam: NDArray[np.float64],
    symmetric: bool,
) -> NDArray[np.float64]:
    """``|<ψ(x2_j)|ψ(x1_i)>|²`` from the statevector of each point."""
    states1 = _states(feature_map, x1, lam)
    states2 = states1 if symmetric else _states(feature_map, x2, lam)
    kernel: NDArray[np.float64] = np.clip(np.abs(states1 @ states2.conj().T) ** 2, 0.0, 1.0)
    if symmetric:
        np.fill_diagonal(kernel, 1.0)
    return kernel


def _states(
    feature_map: FeatureMap, points: NDArray[np.float64], lam: NDArray[np.float64]
) -> NDArray[np.complex128]:
    return np.array([Statevector(feature_map.construct_circuit(x, lam)).data for x in points])


def _pairs(rows: int, columns: int, symmetric: bool) -> list[tuple[int, int]]:
    if symmetric:
        return list(itertools.combinations(range(rows), 2))
    return list(itertools.product(range(rows), range(columns)))


def _fill(
    values: Sequence[float],
    pairs: Sequence[tuple[int, int]],
    rows: int,
    columns: int,
    symmetric: bool,
) -> NDArray[np.float64]:
    kernel = np.ones((rows, columns)) if symmetric else np.zeros((rows, columns))
    for (i, j), value in zip(pairs, values, strict=True):
        kernel[i, j] = value
        if symmetric:
            kernel[j, i] = value
    return kernel


def _points(values: ArrayLike, feature_map: FeatureMap, field: str) -> NDArray[np.float64]:
    try:
        points = np.atleast_2d(np.asarray(values, dtype=float))
    except (TypeError, ValueError) as error:
        raise InputError(f"{field} must be an array of numbers: {error}", field=field) from error
    if points.ndim != 2 or points.shape[1] != feature_map.feature_dimension:
        raise InputError(
            f"{field} must hold data points of {feature_map.feature_dimension} features, one per "
            f"row; got an array of shape {points.shape}.",
            field=field,
        )
    return points


def _layout_list(layout: InitialLayout | None, num_qubits: int) -> list[int] | None:
    """The layout as a list in qubit order; a dict's keys may be strings, as JSON has them."""
    if layout is None:
        return None
    if isinstance(layout, Mapping):
        try:
            by_qubit = {int(qubit): int(physical) for qubit, physical in layout.items()}
        except (TypeError, ValueError) as error:
            raise InputError(
                f"initial_layout maps qubit numbers to physical qubits; got {dict(layout)!r}.",
                field="initial_layout",
            ) from error
        if sorted(by_qubit) != list(range(num_qubits)):
            raise InputError(
                f"initial_layout must place each of the feature map's {num_qubits} qubits; "
                f"got qubits {sorted(by_qubit)}.",
                field="initial_layout",
            )
        physical = [by_qubit[qubit] for qubit in range(num_qubits)]
    else:
        physical = [int(qubit) for qubit in layout]
    if len(physical) != num_qubits or len(set(physical)) != num_qubits or min(physical) < 0:
        raise InputError(
            f"initial_layout must give {num_qubits} different physical qubits, one per qubit of "
            f"the feature map; got {list(physical)}.",
            field="initial_layout",
        )
    return physical
