"""Quantum kernel alignment on qruntime, end to end: the walkthrough of docs/qka.md.

Runs the quantum-kernel-alignment program as a job on IBM's QKA tutorial problem, prints each
SPSA step as it arrives, tests the aligned kernel on held-out data, and writes plots (with
matplotlib, if installed: ``pip install "qruntime[docs]"``).

    python docs/qka_walkthrough.py                               # an embedded local service
    python docs/qka_walkthrough.py --url https://127.0.0.1:8443 --token TOKEN
    python docs/qka_walkthrough.py --data dataset_graph7.csv     # the tutorial's data file

Without ``--data`` the data is drawn from the same distribution as the tutorial's
(``qruntime.algorithms.labeling_cosets``: 7 qubits, error variance 0.01).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qruntime import RuntimeProvider
from qruntime.algorithms import (
    FeatureMap,
    KernelMatrix,
    balanced_accuracy,
    labeling_cosets,
    load_csv,
    solve_svm_dual,
)
from qruntime.backends import default_catalogue

ENTANGLER_MAP = [[0, 2], [3, 4], [2, 5], [1, 4], [2, 3], [4, 6]]
"""The tutorial's 7-qubit subgraph (qubits 10 to 16 of ibmq_montreal)."""
FEATURE_DIMENSION = 14
NUM_TRAIN = NUM_TEST = 20


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running qruntime service; default: start one in-process")
    parser.add_argument("--token", help="API token for --url")
    parser.add_argument("--verify", help="CA certificate of --url's server (default: system CAs)")
    parser.add_argument("--data", type=Path, help="CSV file, one point per row, label last")
    parser.add_argument("--backend", default="simulator_statevector", help="backend name")
    parser.add_argument("--maxiters", type=int, default=10, help="SPSA steps (default 10)")
    parser.add_argument("--shots", type=int, default=8192, help="shots per kernel entry")
    parser.add_argument(
        "--initial-layout",
        type=json.loads,
        default=None,
        help='physical qubits as JSON, e.g. "[10, 11, 12, 13, 14, 15, 16]" on ibmq_montreal',
    )
    parser.add_argument("--out", type=Path, default=Path("qka-output"), help="output folder")
    arguments = parser.parse_args(argv)
    if arguments.url and not arguments.token:
        parser.error("--url needs --token")
    return arguments


def tutorial_split(
    data: NDArray[np.float64], labels: NDArray[np.float64]
) -> tuple[NDArray[np.float64], ...]:
    """The tutorial's split, first 20 points to train and the next 20 to test, sorted by label.

    Sorting only orders the kernel picture (one class, then the other); the alignment does not
    depend on the order.
    """
    train = slice(0, NUM_TRAIN)
    test = slice(NUM_TRAIN, NUM_TRAIN + NUM_TEST)
    x_train, y_train, x_test, y_test = data[train], labels[train], data[test], labels[test]
    by_train_label = np.argsort(y_train, kind="stable")
    by_test_label = np.argsort(y_test, kind="stable")
    return (
        x_train[by_train_label],
        y_train[by_train_label],
        x_test[by_test_label],
        y_test[by_test_label],
    )


def connect(arguments: argparse.Namespace) -> RuntimeProvider:
    if arguments.url:
        return RuntimeProvider(arguments.url, arguments.token, verify=arguments.verify)
    print("Starting an embedded qruntime service...")
    return RuntimeProvider.local()


def plot(out: Path, costs: list[float], kernel: NDArray[np.float64]) -> list[Path]:
    """Cost per step and the aligned kernel matrix (less the identity, as in the tutorial)."""
    try:
        # Loaded by name: matplotlib is an optional extra, and files are written, not shown.
        importlib.import_module("matplotlib").use("Agg")
        plt = importlib.import_module("matplotlib.pyplot")
    except ImportError:
        print('No plots: matplotlib is not installed (pip install "qruntime[docs]").')
        return []
    figure, axes = plt.subplots(figsize=(5, 3.5))
    axes.plot(range(1, len(costs) + 1), costs, marker="o")
    axes.set_xlabel("SPSA step")
    axes.set_ylabel("cost (SVM dual objective)")
    axes.set_title("Quantum kernel alignment")
    figure.tight_layout()
    cost_path = out / "qka_cost.png"
    figure.savefig(cost_path, dpi=120)
    plt.close(figure)

    figure, axes = plt.subplots(figsize=(4.5, 4))
    image = axes.imshow(kernel - np.identity(len(kernel)), cmap="bwr", vmin=-1, vmax=1)
    figure.colorbar(image, ax=axes)
    axes.set_title("Aligned kernel matrix - identity")
    figure.tight_layout()
    kernel_path = out / "qka_kernel.png"
    figure.savefig(kernel_path, dpi=120)
    plt.close(figure)
    return [cost_path, kernel_path]


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    feature_map = FeatureMap(FEATURE_DIMENSION, ENTANGLER_MAP)
    if arguments.data:
        data, labels = load_csv(arguments.data)
    else:
        dataset = labeling_cosets(feature_map, NUM_TRAIN + NUM_TEST, seed=2021)
        data, labels = dataset.data, dataset.labels
    x_train, y_train, x_test, y_test = tutorial_split(data, labels)

    inputs: dict[str, Any] = {
        "feature_map": feature_map,
        "data": x_train,
        "labels": y_train,
        "initial_kernel_parameters": [0.1],
        "maxiters": arguments.maxiters,
        "C": 1,
        "initial_layout": arguments.initial_layout,
        "shots": arguments.shots,
    }
    costs: list[float] = []

    def show_step(job_id: str, message: Any) -> None:
        if isinstance(message, dict) and "cost" in message:
            costs.append(float(message["cost"]))
            lambdas = np.round(message["kernel_parameters"], 5).tolist()
            print(f"  step {len(costs):2d}: cost {costs[-1]:.5f}, kernel parameters {lambdas}")

    with connect(arguments) as provider:
        job = provider.runtime.run(
            "quantum-kernel-alignment",
            inputs=inputs,
            options={"backend_name": arguments.backend},
            callback=show_step,
        )
        print(f"Job {job.job_id()} on {arguments.backend}:")
        result = job.result()
        # The stream may lag the result; the service keeps every interim result.
        costs = [float(message["cost"]) for message in job.interim_results()]
    aligned = result["aligned_kernel_parameters"]
    train_kernel = result["aligned_kernel_matrix"]
    print(f"Aligned kernel parameters: {aligned}")

    # The test kernel, built in this process on the same kind of backend (exact on
    # simulator_statevector), from the aligned parameters.
    backend = default_catalogue().get(arguments.backend)
    kernel = KernelMatrix(
        feature_map, backend, initial_layout=arguments.initial_layout, shots=arguments.shots
    )
    test_kernel = kernel.construct_kernel_matrix(x_test, x_train, aligned)
    svm = solve_svm_dual(train_kernel, y_train, C=1)
    accuracy = balanced_accuracy(y_test, svm.predict(test_kernel))
    print(f"Balanced test accuracy: {accuracy}")

    arguments.out.mkdir(parents=True, exist_ok=True)
    summary = {
        "backend": arguments.backend,
        "costs": costs,
        "aligned_kernel_parameters": np.asarray(aligned).tolist(),
        "balanced_test_accuracy": accuracy,
    }
    summary_path = arguments.out / "qka_summary.json"
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    for path in [summary_path, *plot(arguments.out, costs, train_kernel)]:
        print(f"Wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
