"""quantum-kernel-alignment: the feature map, kernels, SVM, data generator and the program.

The tutorial checks use IBM's QKA tutorial setup (first 20 rows of ``dataset_graph7.csv`` to
train, the next 20 to test, its 7-qubit entangler map, λ0 = [0.1], C = 1, 10 SPSA steps) against
the noiseless reference of that setup: exact kernels, the same SPSA constants and seeds.
"""

from __future__ import annotations

import inspect
import json
import math
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

import qruntime.programs.quantum_kernel_alignment as qka_package
from qruntime import RuntimeProvider
from qruntime.algorithms import (
    FeatureMap,
    KernelMatrix,
    balanced_accuracy,
    computes_exactly,
    labeling_cosets,
    load_csv,
    save_csv,
    solve_svm_dual,
)
from qruntime.backends import default_catalogue
from qruntime.errors import InputError, InvalidInputsError
from qruntime.local import run_program
from qruntime.program import ProgramMetadata, UserMessenger
from qruntime.programs import builtin_program
from qruntime.programs.quantum_kernel_alignment.alignment import SPSASchedule
from qruntime.programs.quantum_kernel_alignment.program import main
from qruntime.serialization import decode

TUTORIAL_DATA = Path(__file__).resolve().parents[1].parent / "shared/data/qka/dataset_graph7.csv"
TUTORIAL_ENTANGLER_MAP = [[0, 2], [3, 4], [2, 5], [1, 4], [2, 3], [4, 6]]
METADATA = Path(qka_package.__file__).with_name("metadata.json")
WAIT = 300  # seconds a job may take here, so that a hang fails instead of stalling

# The noiseless reference of the tutorial setup: (cost, λ) after each of the 10 SPSA steps.
REFERENCE_TRAJECTORY = [
    (11.8329, 0.25362),
    (11.0698, 0.49042),
    (9.0010, 0.74673),
    (6.6950, 0.91556),
    (5.5639, 1.02172),
    (5.0301, 1.09660),
    (4.7309, 1.15206),
    (4.5521, 1.19386),
    (4.4418, 1.22563),
    (4.3725, 1.25011),
]
# The same reference's optimum of the SVM dual and balanced test accuracy at fixed λ.
REFERENCE_OPTIMA = [(0.1, 11.981, 0.60), (1.221689, 4.3374, 1.0), (math.pi / 2, 4.1841, 1.0)]

SHOTS = 8192
# Shot noise, bounded: a kernel entry estimated from SHOTS samples has a variance of at most
# 1/(4·SHOTS). The optimum F* of the SVM dual moves, to first order, by
# -Σ_{i<j} a_i a_j y_i y_j δK_ij with 0 ≤ a ≤ C = 1, so its standard deviation is at most
# sqrt(N(N-1)/2 / (4·SHOTS)) = 0.076 for N = 20, and a step's cost (the mean over two independent
# kernels) at most 0.054.
COST_SIGMA = math.sqrt(20 * 19 / 2 / (4 * SHOTS)) / math.sqrt(2)
# Each SPSA update adds a_k/(2c_k)·(δF+ - δF-), of standard deviation at most
# a_k/(2c_k)·sqrt(2)·0.076 (0.027 at k = 0, shrinking as 1/sqrt(k+1)); over 10 steps these add up
# to at most sqrt(Σ_k ...) = 0.046.
LAMBDA_SIGMA = math.sqrt(
    sum(
        (SPSASchedule().learning_rate(k) / (2 * SPSASchedule().perturbation(k))) ** 2
        * 2
        * (COST_SIGMA * math.sqrt(2)) ** 2
        for k in range(10)
    )
)


@pytest.fixture(scope="module")
def catalogue() -> Any:
    return default_catalogue()


@pytest.fixture(scope="module")
def tutorial() -> dict[str, Any]:
    """The tutorial's feature map, training and test data; skipped where the data is absent."""
    if not TUTORIAL_DATA.exists():
        pytest.skip(f"the tutorial data {TUTORIAL_DATA.name} is not available")
    data, labels = load_csv(TUTORIAL_DATA)
    return {
        "feature_map": FeatureMap(14, TUTORIAL_ENTANGLER_MAP),
        "x_train": data[:20],
        "y_train": labels[:20],
        "x_test": data[20:40],
        "y_test": labels[20:40],
    }


def run_main(backend: Any, **inputs: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Call the program's main in this process; return its result and decoded interim results."""
    published: list[str] = []
    result = main(backend, UserMessenger(sink=published.append), **inputs)
    json.dumps(published)
    return result, [decode(text) for text in published]


def accuracy_of(
    feature_map: FeatureMap,
    parameters: Any,
    x_train: NDArray[np.float64],
    y_train: NDArray[np.float64],
    x_test: NDArray[np.float64],
    y_test: NDArray[np.float64],
) -> float:
    """Balanced test accuracy of the SVM trained with exact kernels at ``parameters``."""
    kernel = KernelMatrix(feature_map)
    svm = solve_svm_dual(kernel.construct_kernel_matrix(x_train, x_train, parameters), y_train)
    predicted = svm.predict(kernel.construct_kernel_matrix(x_test, x_train, parameters))
    return balanced_accuracy(y_test, predicted)


# -- the feature map ---------------------------------------------------------------------------


def test_feature_map_builds_the_tutorial_circuit(tutorial: dict[str, Any]) -> None:
    # The tutorial printed the circuit of its first training point (data row 9), qubit 0:
    # RY(-0.1), then RZ(-0.38383), RX(3.3378); qubit 6 ends with RZ(-0.42725), RX(0.44115).
    data, _ = load_csv(TUTORIAL_DATA)
    circuit = tutorial["feature_map"].construct_circuit(data[9], [0.1])
    gates = [(i.operation.name, circuit.find_bit(i.qubits[0]).index) for i in circuit.data]
    angles = {
        (name, qubit): float(i.operation.params[0])
        for (name, qubit), i in zip(gates, circuit.data, strict=True)
        if name != "cz"
    }
    assert angles[("ry", 0)] == pytest.approx(-0.1)
    assert angles[("rz", 0)] == pytest.approx(-0.38383, abs=1e-5)
    assert angles[("rx", 0)] == pytest.approx(3.3378, abs=1e-4)
    assert angles[("rz", 6)] == pytest.approx(-0.42725, abs=1e-5)
    assert angles[("rx", 6)] == pytest.approx(0.44115, abs=1e-5)
    cz_pairs = [
        [circuit.find_bit(q).index for q in i.qubits] for i in circuit.data if i.name == "cz"
    ]
    assert cz_pairs == TUTORIAL_ENTANGLER_MAP
    # All rotations by λ come first, then the entanglers, then per qubit rz before rx.
    names = [name for name, _ in gates]
    assert names == ["ry"] * 7 + ["cz"] * 6 + ["rz", "rx"] * 7


def test_a_single_kernel_parameter_is_used_for_every_qubit() -> None:
    feature_map = FeatureMap(6)
    x = [0.1, -0.2, 0.3, 0.4, -0.5, 0.6]
    single = feature_map.construct_circuit(x, [0.7])
    repeated = feature_map.construct_circuit(x, [0.7, 0.7, 0.7])
    assert single == repeated
    assert feature_map.construct_circuit(x, [0.7, 0.1, 0.2]) != single
    with pytest.raises(InputError, match="3 kernel parameters"):
        feature_map.construct_circuit(x, [0.7, 0.1])


def test_feature_map_checks_its_dimension_and_entangler_map() -> None:
    for dimension in (3, 0, 2.0, True):
        with pytest.raises(InputError, match="even integer"):
            FeatureMap(dimension)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="between 0 and 2"):
        FeatureMap(6, [[0, 3]])
    with pytest.raises(InputError, match="two different qubits"):
        FeatureMap(6, [[1, 1]])
    assert FeatureMap(6).entangler_map == [[0, 1], [0, 2], [1, 2]]
    with pytest.raises(InputError, match="6 features"):
        FeatureMap(6).construct_circuit([0.1] * 4, [0.1])


def test_feature_map_travels_as_json_and_the_inverse_undoes_it() -> None:
    feature_map = FeatureMap(8, [[0, 1], [2, 3], [1, 2]])
    copy = FeatureMap.from_json(feature_map.to_json())
    assert copy == feature_map
    assert copy.entangler_map == [[0, 1], [2, 3], [1, 2]]
    assert json.loads(feature_map.to_json()) == {
        "feature_dimension": 8,
        "entangler_map": [[0, 1], [2, 3], [1, 2]],
    }
    with pytest.raises(InputError, match="not valid JSON"):
        FeatureMap.from_json("{feature")
    x = np.linspace(-1, 1, 8)
    circuit = feature_map.construct_circuit(x, [0.4])
    circuit.compose(feature_map.construct_circuit(x, [0.4], inverse=True), inplace=True)
    from qiskit.quantum_info import Operator

    assert Operator(circuit).equiv(Operator(np.eye(16)))


# -- kernels -----------------------------------------------------------------------------------


def test_kernels_on_a_statevector_simulator_are_exact_and_match_local_ones(catalogue: Any) -> None:
    feature_map = FeatureMap(6, [[0, 1], [1, 2]])
    dataset = labeling_cosets(feature_map, 8, seed=5)
    x1, x2 = dataset.data[:5], dataset.data[5:]
    backend = catalogue.get("simulator_statevector")
    assert computes_exactly(backend)
    assert computes_exactly(None)
    assert not computes_exactly(catalogue.get("ibmq_qasm_simulator"))
    on_backend = KernelMatrix(feature_map, backend)
    local = KernelMatrix(feature_map)
    square = on_backend.construct_kernel_matrix(x1, x1, [0.3])
    np.testing.assert_allclose(square, local.construct_kernel_matrix(x1, x1, [0.3]), atol=1e-12)
    np.testing.assert_allclose(np.diag(square), 1.0)
    np.testing.assert_allclose(square, square.T)
    assert np.all((square > 0) & (square <= 1))
    rectangle = on_backend.construct_kernel_matrix(x1, x2, [0.3, 0.2, 0.1])
    assert rectangle.shape == (5, 3)
    np.testing.assert_allclose(
        rectangle, local.construct_kernel_matrix(x1, x2, [0.3, 0.2, 0.1]), atol=1e-12
    )


def test_sampled_kernels_stay_within_shot_noise(catalogue: Any) -> None:
    feature_map = FeatureMap(6, [[0, 1], [1, 2]])
    points = labeling_cosets(feature_map, 10, seed=3).data
    shots = 2000
    sampled = KernelMatrix(
        feature_map, catalogue.get("ibmq_qasm_simulator"), shots=shots, seed_simulator=11
    ).construct_kernel_matrix(points, points, [0.9])
    exact = KernelMatrix(feature_map).construct_kernel_matrix(points, points, [0.9])
    sigma = np.sqrt(exact * (1 - exact) / shots)
    # 45 sampled entries: each within 4.5 standard deviations (or one count) of the exact value.
    assert np.all(np.abs(sampled - exact) <= 4.5 * sigma + 1 / shots)
    counts = sampled * shots  # counts, not probabilities
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-6)
    assert not np.allclose(sampled, exact)


def test_kernels_on_a_device_emulator_are_noisy_overlaps(catalogue: Any) -> None:
    feature_map = FeatureMap(4, [[0, 1]])
    points = labeling_cosets(feature_map, 4, seed=1).data
    kernel = KernelMatrix(
        feature_map, catalogue.get("ibmq_bogota"), initial_layout=[3, 4], seed_simulator=2
    )
    matrix = kernel.construct_kernel_matrix(points, points, [1.2])
    exact = KernelMatrix(feature_map).construct_kernel_matrix(points, points, [1.2])
    # Device noise lowers the overlaps but keeps them close at two qubits.
    assert np.max(np.abs(matrix - exact)) < 0.15
    assert not np.allclose(matrix, exact, atol=0.01)
    with pytest.raises(InputError, match="2 different physical qubits"):
        KernelMatrix(feature_map, catalogue.get("ibmq_bogota"), initial_layout=[3, 3])


# -- the SVM -----------------------------------------------------------------------------------


def test_svm_dual_of_two_points_has_the_textbook_solution() -> None:
    # Points +1 and -1 on a line, linear kernel: a = 1/2 each, F* = 1/2, w = 1, b = 0.
    kernel = np.array([[1.0, -1.0], [-1.0, 1.0]])
    labels = np.array([1.0, -1.0])
    svm = solve_svm_dual(kernel, labels, C=1.0)
    np.testing.assert_allclose(svm.dual_coefficients, [0.5, 0.5], atol=1e-6)
    assert svm.objective == pytest.approx(0.5, abs=1e-9)
    assert svm.bias == pytest.approx(0.0, abs=1e-6)
    # New points at x = 2 and x = -0.5: the kernel with the training points is [x, -x].
    np.testing.assert_allclose(svm.decision_function([[2.0, -2.0], [-0.5, 0.5]]), [2.0, -0.5])
    np.testing.assert_array_equal(svm.predict([[2.0, -2.0], [-0.5, 0.5]]), [1.0, -1.0])
    # A smaller C caps the coefficients: a = C, F* = 2C - 2C².
    capped = solve_svm_dual(kernel, labels, C=0.25)
    np.testing.assert_allclose(capped.dual_coefficients, [0.25, 0.25], atol=1e-6)
    assert capped.objective == pytest.approx(0.375, abs=1e-9)


def test_svm_refuses_bad_labels_and_shapes() -> None:
    kernel = np.eye(3)
    with pytest.raises(InputError, match="\\+1 or -1"):
        solve_svm_dual(kernel, [1, 0, -1])
    with pytest.raises(InputError, match="both classes"):
        solve_svm_dual(kernel, [1, 1, 1])
    with pytest.raises(InputError, match="square"):
        solve_svm_dual(np.eye(2), [1, -1, 1])
    with pytest.raises(InputError, match="C must be positive"):
        solve_svm_dual(kernel, [1, -1, 1], C=0)
    assert balanced_accuracy([1, 1, 1, -1], [1, 1, -1, -1]) == pytest.approx((2 / 3 + 1) / 2)


def test_svm_and_kernels_reproduce_the_reference_optima(tutorial: dict[str, Any]) -> None:
    kernel = KernelMatrix(tutorial["feature_map"])
    for lam, optimum, accuracy in REFERENCE_OPTIMA:
        train = kernel.construct_kernel_matrix(tutorial["x_train"], tutorial["x_train"], [lam])
        assert solve_svm_dual(train, tutorial["y_train"]).objective == pytest.approx(
            optimum, abs=1e-3
        )
        assert accuracy_of(
            tutorial["feature_map"],
            [lam],
            tutorial["x_train"],
            tutorial["y_train"],
            tutorial["x_test"],
            tutorial["y_test"],
        ) == pytest.approx(accuracy)


# -- the data generator ------------------------------------------------------------------------


def test_without_error_each_coset_is_one_state_at_half_pi() -> None:
    feature_map = FeatureMap(10, [[0, 1], [1, 2], [2, 3], [3, 4], [0, 4]])
    dataset = labeling_cosets(feature_map, 12, error_variance=0, seed=7)
    assert dataset.data.shape == (12, 10)
    np.testing.assert_array_equal(dataset.labels, [1, -1] * 6)
    assert np.all(np.abs(dataset.cosets) <= math.pi / 4)
    kernel = KernelMatrix(feature_map).construct_kernel_matrix(
        dataset.data, dataset.data, [math.pi / 2]
    )
    same_class = np.equal.outer(dataset.labels, dataset.labels)
    np.testing.assert_allclose(kernel[same_class], 1.0, atol=1e-9)
    assert np.max(kernel[~same_class]) < 0.99
    # The points of a class are not copies of one point: the stabilizer moved them.
    for label in (1, -1):
        points = dataset.data[dataset.labels == label]
        assert len({tuple(np.round(row, 9)) for row in points}) >= 3
    # Elsewhere than π/2 the cosets are not single states.
    away = KernelMatrix(feature_map).construct_kernel_matrix(dataset.data, dataset.data, [0.3])
    assert np.min(away[same_class]) < 0.9


def test_error_has_the_requested_variance_and_the_seed_repeats_the_data(tmp_path: Path) -> None:
    feature_map = FeatureMap(8, [[0, 1], [1, 2], [2, 3]])
    clean = labeling_cosets(feature_map, 2000, error_variance=0, seed=3)
    noisy = labeling_cosets(feature_map, 2000, error_variance=0.01, seed=3)
    # Same seed: same cosets and stabilizer elements, and the error on top.
    np.testing.assert_array_equal(clean.cosets, noisy.cosets)
    error = noisy.data - clean.data
    assert np.var(error) == pytest.approx(0.01, rel=0.05)
    assert abs(np.mean(error)) < 0.005
    assert not np.array_equal(labeling_cosets(feature_map, 4, seed=4).data, noisy.data[:4])
    path = tmp_path / "cosets.csv"
    save_csv(path, noisy.data[:6], noisy.labels[:6])
    data, labels = load_csv(path)
    np.testing.assert_array_equal(data, noisy.data[:6])
    np.testing.assert_array_equal(labels, noisy.labels[:6])


# -- the program -------------------------------------------------------------------------------


def test_metadata_declares_every_input_interim_result_and_return_value() -> None:
    raw = json.loads(METADATA.read_text())
    metadata = ProgramMetadata.from_file(METADATA)
    assert metadata.name == "quantum-kernel-alignment"
    assert builtin_program("quantum-kernel-alignment").metadata == metadata
    properties = metadata.parameters["properties"]
    signature = inspect.signature(main)
    inputs = [name for name in signature.parameters if name not in ("backend", "user_messenger")]
    assert sorted(properties) == sorted(inputs)
    for name in inputs:
        assert properties[name]["description"]
        default = signature.parameters[name].default
        if default is inspect.Parameter.empty:
            assert name in metadata.parameters["required"]
        else:
            assert properties[name]["default"] == default, name
    assert set(raw["spec"]["interim_results"]["properties"]) == {"cost", "kernel_parameters"}
    assert set(raw["spec"]["return_values"]["properties"]) == {
        "aligned_kernel_parameters",
        "aligned_kernel_matrix",
    }


def test_alignment_on_generated_data_finds_a_separating_kernel(catalogue: Any) -> None:
    feature_map = FeatureMap(8, [[0, 1], [1, 2], [2, 3]])
    dataset = labeling_cosets(feature_map, 32, seed=0)
    x_train, y_train = dataset.data[:16], dataset.labels[:16]
    x_test, y_test = dataset.data[16:], dataset.labels[16:]
    received: list[Any] = []
    result = run_program(
        "quantum-kernel-alignment",
        {
            "feature_map": feature_map,
            "data": x_train,
            "labels": y_train,
            "initial_kernel_parameters": [0.1],
            "maxiters": 10,
        },
        backend="simulator_statevector",
        callback=lambda _, message: received.append(message),
        catalogue=catalogue,
    )
    costs = [message["cost"] for message in received]
    assert len(costs) == 10
    assert costs[-1] < 0.5 * costs[0]
    aligned = result["aligned_kernel_parameters"]
    assert aligned.shape == (1,)
    np.testing.assert_array_equal(aligned, received[-1]["kernel_parameters"])
    accuracy = accuracy_of(feature_map, [0.1], x_train, y_train, x_test, y_test)
    assert accuracy < 0.75
    assert accuracy_of(feature_map, aligned, x_train, y_train, x_test, y_test) == 1.0
    np.testing.assert_allclose(
        result["aligned_kernel_matrix"],
        KernelMatrix(feature_map).construct_kernel_matrix(x_train, x_train, aligned),
        atol=1e-12,
    )


def test_the_tutorial_alignment_matches_the_noiseless_reference(
    catalogue: Any, tutorial: dict[str, Any]
) -> None:
    result, interim = run_main(
        catalogue.get("simulator_statevector"),
        feature_map=tutorial["feature_map"].to_json(),
        data=tutorial["x_train"],
        labels=tutorial["y_train"],
        initial_kernel_parameters=[0.1],
        maxiters=10,
        C=1,
    )
    assert len(interim) == len(REFERENCE_TRAJECTORY)
    for step, ((cost, lam), message) in enumerate(zip(REFERENCE_TRAJECTORY, interim, strict=True)):
        assert message["cost"] == pytest.approx(cost, rel=0.01), step
        assert message["kernel_parameters"] == pytest.approx([lam], rel=0.01), step
    aligned = result["aligned_kernel_parameters"]
    # int(10% of 10 steps) = 1: the aligned parameters are the last step's.
    np.testing.assert_array_equal(aligned, interim[-1]["kernel_parameters"])
    assert aligned == pytest.approx([1.250], abs=0.001)
    kernel = result["aligned_kernel_matrix"]
    assert kernel.shape == (20, 20)
    np.testing.assert_allclose(np.diag(kernel), 1.0)
    accuracy = accuracy_of(
        tutorial["feature_map"],
        aligned,
        tutorial["x_train"],
        tutorial["y_train"],
        tutorial["x_test"],
        tutorial["y_test"],
    )
    assert accuracy == 1.0


def test_the_tutorial_alignment_with_shots_stays_within_shot_noise(
    catalogue: Any, tutorial: dict[str, Any]
) -> None:
    feature_map = tutorial["feature_map"]
    x_train, y_train = tutorial["x_train"], tutorial["y_train"]
    result, interim = run_main(
        catalogue.get("ibmq_qasm_simulator"),
        feature_map=feature_map,
        data=x_train,
        labels=y_train,
        initial_kernel_parameters=[0.1],
        maxiters=10,
        shots=SHOTS,
        seed_simulator=2021,
    )
    exact = KernelMatrix(feature_map)
    schedule = SPSASchedule()
    previous = np.array([0.1])
    for k, ((_, reference_lambda), message) in enumerate(
        zip(REFERENCE_TRAJECTORY, interim, strict=True)
    ):
        # The cost is sampled at the step's own probes, λ ± c_k Δ_k around the previous λ.
        probe = schedule.perturbation(k) * schedule.direction(k, 1)
        kernels = exact.construct_kernel_matrices(
            x_train, x_train, [previous + probe, previous - probe]
        )
        exact_cost = np.mean([solve_svm_dual(K, y_train).objective for K in kernels])
        assert abs(message["cost"] - exact_cost) < 4 * COST_SIGMA, k
        lam = message["kernel_parameters"]
        assert abs(lam[0] - reference_lambda) < 4 * LAMBDA_SIGMA, k
        previous = lam
    aligned = result["aligned_kernel_parameters"]
    assert abs(aligned[0] - 1.250) < 4 * LAMBDA_SIGMA
    x_test, y_test = tutorial["x_test"], tutorial["y_test"]
    assert accuracy_of(feature_map, aligned, x_train, y_train, x_test, y_test) == 1.0
    kernel = result["aligned_kernel_matrix"]
    # Sampled entries: whole counts out of SHOTS, and not all equal to the exact ones.
    np.testing.assert_allclose(kernel * SHOTS, np.round(kernel * SHOTS), atol=1e-6)
    exact_kernel = exact.construct_kernel_matrix(x_train, x_train, aligned)
    assert np.max(np.abs(kernel - exact_kernel)) < 5 * math.sqrt(0.25 / SHOTS)
    assert not np.allclose(kernel, exact_kernel)


@pytest.mark.parametrize(
    ("inputs", "field", "message"),
    [
        ({"feature_map": {"feature_dimension": 5}}, "feature_map", "even integer"),
        ({"feature_map": 3}, "feature_map", "must be a FeatureMap"),
        ({"data": np.zeros((4, 6))}, "data", "N x 8 array"),
        ({"labels": [1, -1, 1]}, "labels", "one label per data point"),
        ({"labels": [1, 2, 1, -1]}, "labels", "\\+1 or -1"),
        ({"initial_kernel_parameters": [0.1, 0.2]}, "initial_kernel_parameters", "4 finite"),
        ({"maxiters": -1}, "maxiters", "at least 0"),
        ({"C": 0}, "C", "positive"),
        ({"shots": 200_000}, "shots", "at most 100000"),
        ({"initial_layout": [0, 1]}, "initial_layout", "4 different physical qubits"),
    ],
)
def test_bad_inputs_are_refused_naming_the_input(
    catalogue: Any, inputs: dict[str, Any], field: str, message: str
) -> None:
    feature_map = FeatureMap(8, [[0, 1]])
    valid = {
        "feature_map": feature_map,
        "data": labeling_cosets(feature_map, 4, seed=0).data,
        "labels": [1, -1, 1, -1],
    }
    with pytest.raises(InputError, match=message) as caught:
        run_main(catalogue.get("simulator_statevector"), **{**valid, **inputs})
    assert caught.value.field == field


def test_the_service_checks_inputs_against_the_spec(catalogue: Any) -> None:
    with pytest.raises(InvalidInputsError, match="missing required input 'labels'"):
        run_program(
            "quantum-kernel-alignment",
            {"feature_map": FeatureMap(2), "data": [[0.1, 0.2], [0.3, 0.4]]},
            backend="simulator_statevector",
            catalogue=catalogue,
        )
    with pytest.raises(InvalidInputsError, match="maxiters"):
        run_program(
            "quantum-kernel-alignment",
            {
                "feature_map": FeatureMap(2),
                "data": [[0.1, 0.2]] * 2,
                "labels": [1, -1],
                "maxiters": 1.5,
            },
            backend="simulator_statevector",
            catalogue=catalogue,
        )


def test_a_job_through_the_local_service_gives_the_in_process_result(
    catalogue: Any, tmp_path: Path
) -> None:
    feature_map = FeatureMap(6, [[0, 1], [1, 2]])
    dataset = labeling_cosets(feature_map, 10, seed=2)
    inputs = {
        "feature_map": feature_map,
        "data": dataset.data,
        "labels": dataset.labels,
        "initial_kernel_parameters": [0.2, 0.4, 0.6],
        "maxiters": 3,
        "C": 2.0,
    }
    expected, expected_interim = run_main(catalogue.get("simulator_statevector"), **inputs)
    streamed: list[Any] = []
    all_streamed = threading.Event()

    def on_message(_: str, message: Any) -> None:
        streamed.append(message)
        if len(streamed) == 4:  # three interim results, then the final result
            all_streamed.set()

    with RuntimeProvider.local(tmp_path / "local") as provider:
        program = provider.runtime.program("quantum-kernel-alignment")
        assert program.max_execution_time == 28800
        job = provider.runtime.run(
            "quantum-kernel-alignment",
            inputs=inputs,
            options={"backend_name": "simulator_statevector"},
            callback=on_message,
        )
        result = job.result(timeout=WAIT)
        interim = job.interim_results()
        assert all_streamed.wait(timeout=WAIT)
    np.testing.assert_allclose(
        result["aligned_kernel_parameters"], expected["aligned_kernel_parameters"], atol=1e-9
    )
    assert result["aligned_kernel_parameters"].shape == (3,)
    np.testing.assert_allclose(
        result["aligned_kernel_matrix"], expected["aligned_kernel_matrix"], atol=1e-9
    )
    assert [m["cost"] for m in interim] == pytest.approx([m["cost"] for m in expected_interim])
    for message, reference in zip(interim, expected_interim, strict=True):
        np.testing.assert_allclose(
            message["kernel_parameters"], reference["kernel_parameters"], atol=1e-9
        )
    assert [m["cost"] for m in streamed[:3]] == [m["cost"] for m in interim]
    np.testing.assert_array_equal(
        streamed[3]["aligned_kernel_matrix"], result["aligned_kernel_matrix"]
    )
