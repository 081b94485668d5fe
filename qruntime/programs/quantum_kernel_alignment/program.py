"""quantum-kernel-alignment: learn the quantum kernel that maximizes an SVM's margin on a data set.

The built-in program of IBM's 2021 Qiskit Runtime (Glick et al., arXiv:2105.03406), with its
inputs: a feature map (``qruntime.algorithms.FeatureMap``), training data and ±1 labels, initial
kernel parameters, the number of SPSA steps, the SVM penalty ``C`` and an initial layout; plus
``shots`` and ``seed_simulator``. Each step publishes ``{"cost", "kernel_parameters"}``; the
result is ``{"aligned_kernel_parameters", "aligned_kernel_matrix"}``.

On ``simulator_statevector`` kernel entries are exact probabilities; on every other backend they
are estimated from ``shots`` samples.
"""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Real
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qruntime.algorithms import FeatureMap, KernelMatrix
from qruntime.algorithms.kernel import DEFAULT_SHOTS, InitialLayout
from qruntime.algorithms.svm import check_labels
from qruntime.errors import InputError
from qruntime.program import UserMessenger
from qruntime.programs.circuit_runner.options import as_int

from .alignment import QKA, AlignmentStep


def main(
    backend: Any,
    user_messenger: UserMessenger,
    feature_map: FeatureMap | str | Mapping[str, Any],
    data: Any,
    labels: Any,
    initial_kernel_parameters: Any = None,
    maxiters: int = 1,
    C: float = 1.0,
    initial_layout: InitialLayout | None = None,
    shots: int = DEFAULT_SHOTS,
    seed_simulator: int | None = None,
) -> dict[str, Any]:
    """Align the feature map's kernel to ``data`` and ``labels`` in ``maxiters`` SPSA steps.

    Without ``initial_kernel_parameters`` the alignment starts from parameters drawn uniformly
    from [-1, 1], one per qubit. A single initial parameter is used for every qubit and stays a
    single parameter.

    Raises:
        InputError: an input is malformed or does not fit the feature map or the backend; the
            message names the input.
    """
    fmap = read_feature_map(feature_map)
    points = _data(data, fmap)
    y = check_labels(labels)
    if y.size != len(points):
        raise InputError(
            f"labels has {y.size} entries for {len(points)} data points; give one label per "
            "data point.",
            field="labels",
        )
    lambdas = _initial_parameters(initial_kernel_parameters, fmap)
    steps = _whole(maxiters, "maxiters", minimum=0)
    penalty = _penalty(C)
    num_shots = _shots(shots, backend)
    _check_width(backend, fmap)
    seed = None if seed_simulator is None else _whole(seed_simulator, "seed_simulator", minimum=0)

    kernel = KernelMatrix(fmap, backend, initial_layout, shots=num_shots, seed_simulator=seed)

    def publish(step: AlignmentStep) -> None:
        user_messenger.publish(step.to_interim_result())

    result = QKA(kernel, C=penalty).align_kernel(points, y, lambdas, steps, callback=publish)
    return result.to_dict()


def read_feature_map(value: FeatureMap | str | Mapping[str, Any]) -> FeatureMap:
    """The ``feature_map`` input: a FeatureMap, its ``to_json()``, or that JSON as an object."""
    if isinstance(value, FeatureMap):
        return value
    if isinstance(value, str):
        return FeatureMap.from_json(value)
    if isinstance(value, Mapping):
        return FeatureMap.from_dict(value)
    raise InputError(
        "feature_map must be a FeatureMap (qruntime.algorithms.FeatureMap), its to_json() "
        f"string, or an object with feature_dimension and entangler_map; got "
        f"{type(value).__name__}.",
        field="feature_map",
    )


def _data(value: Any, feature_map: FeatureMap) -> NDArray[np.float64]:
    try:
        points = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as error:
        raise InputError(f"data must be an array of numbers: {error}", field="data") from error
    if points.ndim != 2 or points.shape[1] != feature_map.feature_dimension:
        raise InputError(
            f"data must be an N x {feature_map.feature_dimension} array (one row of "
            f"{feature_map.feature_dimension} features per point, the feature map's dimension); "
            f"got shape {points.shape}.",
            field="data",
        )
    if len(points) < 2 or not np.all(np.isfinite(points)):
        raise InputError("data must hold at least two points, all finite.", field="data")
    return points


def _initial_parameters(value: Any, feature_map: FeatureMap) -> NDArray[np.float64]:
    if value is None:
        return np.random.uniform(-1, 1, size=feature_map.num_parameters)
    try:
        lambdas = np.asarray(value, dtype=float).reshape(-1)
    except (TypeError, ValueError) as error:
        raise InputError(
            f"initial_kernel_parameters must be numbers: {error}",
            field="initial_kernel_parameters",
        ) from error
    if lambdas.size not in (1, feature_map.num_parameters) or not np.all(np.isfinite(lambdas)):
        raise InputError(
            f"initial_kernel_parameters must be {feature_map.num_parameters} finite numbers (one "
            f"per qubit) or a single one for every qubit; got {lambdas.size}.",
            field="initial_kernel_parameters",
        )
    return lambdas


def _whole(value: Any, field: str, *, minimum: int) -> int:
    # JSON does not tell 2 from 2.0; the spec's "integer" accepts both, and so does this.
    number = as_int(value)
    if number is None or number < minimum:
        raise InputError(
            f"{field} must be a whole number of at least {minimum}; got {value!r}.", field=field
        )
    return number


def _penalty(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not 0 < float(value) < np.inf:
        raise InputError(f"C must be a positive number; got {value!r}.", field="C")
    return float(value)


def _shots(value: Any, backend: Any) -> int:
    shots = _whole(value, "shots", minimum=1)
    limit = getattr(backend, "max_shots", None)
    if limit is not None and shots > limit:
        raise InputError(
            f"shots must be at most {limit} on {backend.name}; got {shots}.", field="shots"
        )
    return shots


def _check_width(backend: Any, feature_map: FeatureMap) -> None:
    available = getattr(backend, "num_qubits", None)
    if available is not None and available < feature_map.num_qubits:
        raise InputError(
            f"The feature map needs {feature_map.num_qubits} qubits but {backend.name} has "
            f"{available}; choose a larger backend or a smaller feature dimension.",
            field="feature_map",
        )
