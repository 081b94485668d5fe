"""qaoa: MaxCut with and without swap strategies, CVaR, routing, one job per step, inputs."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp, Statevector

from qruntime import RuntimeProvider
from qruntime.algorithms import expectation
from qruntime.algorithms.expectation import DiagonalOperator, cvar
from qruntime.algorithms.optimizers import COBYLA
from qruntime.errors import InputError
from qruntime.program import UserMessenger
from qruntime.programs.qaoa.ansatz import qaoa_circuit
from qruntime.programs.qaoa.program import main
from qruntime.programs.qaoa.routing import best_line, route_on_line
from tests.test_vqe import RunLog

HOUSE = (4, [(0, 1), (1, 2), (2, 3), (3, 0), (0, 2)])
"""A square with one diagonal: the best cuts cut 4 of its 5 edges."""


def maxcut_operator(num_nodes: int, edges: list[tuple[int, int]]) -> SparsePauliOp:
    """Σ_(i,j) ½ Z_i Z_j: its value is (number of edges) / 2 minus the size of the cut."""
    return SparsePauliOp.from_sparse_list([("ZZ", [i, j], 0.5) for i, j in edges], num_nodes)


def cut_size(bitstring: str, edges: list[tuple[int, int]]) -> int:
    """Edges cut by a bitstring whose rightmost character is node 0."""
    side = bitstring[::-1]
    return sum(side[i] != side[j] for i, j in edges)


def optimal_cuts(num_nodes: int, edges: list[tuple[int, int]]) -> tuple[int, set[str]]:
    """The largest cut and every bitstring that achieves it, by trying all of them."""
    sizes = {
        "".join(bits): cut_size("".join(bits), edges)
        for bits in itertools.product("01", repeat=num_nodes)
    }
    best = max(sizes.values())
    return best, {bits for bits, size in sizes.items() if size == best}


@pytest.fixture
def run_qaoa() -> Callable[..., tuple[dict[str, Any], list[Any]]]:
    def run(backend: Any, **inputs: Any) -> tuple[dict[str, Any], list[Any]]:
        published: list[str] = []
        result = main(backend, UserMessenger(sink=published.append), **inputs)
        return result, [json.loads(text) for text in published]

    return run


# -- MaxCut ------------------------------------------------------------------------------------


@pytest.mark.parametrize("use_swap_strategies", [True, False], ids=["swap-strategy", "sabre"])
def test_maxcut_on_a_device_emulator_finds_an_optimal_cut(
    catalogue: Any, run_qaoa: Callable[..., Any], use_swap_strategies: bool
) -> None:
    """On the noisy ibmq_bogota emulator (a line of 5 qubits), with either routing.

    A random cut is optimal with probability 2/16 here and has expected value 0 (it cuts half
    of the edges); after QAOA the best measured bitstring is an optimal cut, the distribution
    favours the optimal cuts, and the expected value is several standard deviations below 0.
    """
    num_nodes, edges = HOUSE
    best, optimal = optimal_cuts(num_nodes, edges)
    assert (best, len(optimal)) == (4, 2)
    result, _ = run_qaoa(
        catalogue.get("ibmq_bogota"),
        operator=maxcut_operator(num_nodes, edges),
        reps=1,
        initial_point=[0.3, 0.5],
        optimizer={"name": "SPSA", "maxiter": 15},
        use_swap_strategies=use_swap_strategies,
        seed=1,
    )
    assert result["best_bitstring"] in optimal
    assert result["best_value"] == pytest.approx(len(edges) / 2 - best)
    uniform = len(optimal) / 2**num_nodes
    assert sum(result["eigenstate"][bits] for bits in optimal) > 1.25 * uniform
    assert result["optimal_value"] < -4 * result["eigenvalue_std"]
    assert sum(result["eigenstate"].values()) == pytest.approx(1)
    if use_swap_strategies:
        line = result["routing"]["qubits"]
        assert result["routing"]["swap_strategy"] == "line"
        assert len(line) == num_nodes
        assert all(abs(a - b) == 1 for a, b in itertools.pairwise(line)), "bogota is 0-1-2-3-4"
    else:
        assert result["routing"] is None


def test_cvar_concentrates_on_the_best_cuts(catalogue: Any, run_qaoa: Callable[..., Any]) -> None:
    """On an ideal simulator, CVaR with alpha 0.25 drives the best quarter to optimal cuts."""
    num_nodes, edges = 5, [(0, 1), (1, 2), (2, 3), (3, 4), (4, 0), (1, 3)]
    best, optimal = optimal_cuts(num_nodes, edges)
    result, _ = run_qaoa(
        catalogue.get("ibmq_qasm_simulator"),
        operator=maxcut_operator(num_nodes, edges),
        reps=2,
        initial_point=[0.4, 0.2, 0.3, 0.6],
        optimizer=COBYLA(maxiter=40),
        alpha=0.25,
        seed=2,
    )
    assert result["best_bitstring"] in optimal
    assert result["optimal_value"] == pytest.approx(len(edges) / 2 - best, abs=0.05)
    assert result["routing"] is None, "an ideal simulator needs no routing"
    assert sum(result["eigenstate"][bits] for bits in optimal if bits in result["eigenstate"]) > (
        2 * len(optimal) / 2**num_nodes
    )


def test_swap_strategies_keep_the_circuits_on_a_line_of_a_heavy_hex_device(
    catalogue: Any, run_qaoa: Callable[..., Any]
) -> None:
    backend = catalogue.get("ibmq_montreal")
    log = RunLog(backend)
    num_nodes, edges = HOUSE
    result, _ = run_qaoa(
        backend,
        operator=maxcut_operator(num_nodes, edges),
        reps=2,
        initial_point=[0.3, 0.2, 0.5, 0.4],
        optimizer={"name": "SPSA", "maxiter": 2, "learning_rate": 0.1, "perturbation": 0.1},
        shots=200,
        seed=3,
    )
    line = result["routing"]["qubits"]
    coupled = {tuple(sorted(edge)) for edge in backend.coupling_map.get_edges()}
    assert all(tuple(sorted(pair)) in coupled for pair in itertools.pairwise(line))
    neighbours = {tuple(sorted(pair)) for pair in itertools.pairwise(line)}
    for batch in log.batches:
        for circuit in batch:
            for instruction in circuit.data:
                qubits = [circuit.find_bit(q).index for q in instruction.qubits]
                if instruction.operation.name == "barrier":
                    continue
                assert set(qubits) <= set(line), f"{instruction.operation.name} off the line"
                if len(qubits) == 2:
                    assert tuple(sorted(qubits)) in neighbours


@pytest.mark.filterwarnings("ignore::scipy.sparse.SparseEfficiencyWarning")
def test_routing_on_a_line_keeps_every_outcome_probability() -> None:
    num_nodes, edges = 5, [(0, 2), (0, 4), (1, 3), (2, 3), (1, 4), (0, 1)]
    cost = maxcut_operator(num_nodes, edges) + SparsePauliOp.from_sparse_list(
        [("Z", [2], 0.7)], num_nodes
    )
    state, _ = qaoa_circuit(cost, reps=2)
    measured = state.copy()
    measured.measure_all()
    routed = route_on_line([measured], num_nodes)[0]
    assert routed.count_ops().get("swap", 0) > 0
    values = [0.3, -0.7, 1.1, 0.4]
    expected = Statevector(state.assign_parameters(values)).probabilities_dict()
    assert _outcome_probabilities(routed.assign_parameters(values)) == pytest.approx(
        expected, abs=1e-9
    )


def _outcome_probabilities(circuit: QuantumCircuit) -> dict[str, float]:
    """Exact probabilities of the classical outcomes of a circuit measured at its end."""
    qubit_of_clbit = {
        circuit.find_bit(inst.clbits[0]).index: circuit.find_bit(inst.qubits[0]).index
        for inst in circuit.data
        if inst.operation.name == "measure"
    }
    order = [qubit_of_clbit[clbit] for clbit in range(len(qubit_of_clbit))]
    state = Statevector(circuit.remove_final_measurements(inplace=False))
    return {k: v for k, v in state.probabilities_dict(qargs=order).items() if v > 1e-12}


def test_the_best_line_avoids_the_noisiest_qubits() -> None:
    # a square 0-1-2-3-0; the edge (2, 3) and qubit 3's readout are bad
    edges = {(0, 1), (1, 2), (2, 3), (0, 3)}
    errors = {(0, 1): 0.01, (1, 2): 0.01, (2, 3): 0.2, (0, 3): 0.01}
    assert best_line(edges, 3, errors, {3: 0.3}) == [0, 1, 2]
    assert best_line(edges, 4, errors, {}) == [2, 1, 0, 3]
    assert best_line({(0, 1)}, 3, {}, {}) is None


# -- the objective ------------------------------------------------------------------------------


def test_diagonal_values_match_the_operator_matrix() -> None:
    cost = maxcut_operator(*HOUSE) + SparsePauliOp.from_list([("IIII", 2.0), ("ZIZZ", -0.3)])
    values = DiagonalOperator.from_operator(cost).values(np.arange(16, dtype=np.int64))
    assert values == pytest.approx(np.real(np.diag(cost.to_matrix())))


@pytest.mark.parametrize("table_entries", [expectation.TABLE_ENTRIES, 0])
def test_diagonal_values_are_parity_weighted_sums_looked_up_or_computed(
    monkeypatch: pytest.MonkeyPatch, table_entries: int
) -> None:
    """Looked up in a table of every outcome (the default here) or computed per outcome (no
    table allowed): the same values, also for outcomes with bits above every term's mask."""
    monkeypatch.setattr(expectation, "TABLE_ENTRIES", table_entries)
    masks = np.array([0b1, 0b110, 0b1011], dtype=np.int64)
    coeffs = np.random.default_rng(2).normal(size=3)
    outcomes = [0, 1, 5, 11, 13, 15, 64 + 3, 1024 + 6]
    terms = list(zip(masks.tolist(), coeffs.tolist(), strict=True))
    expected = [0.5 + sum(c * (-1) ** (o & m).bit_count() for m, c in terms) for o in outcomes]
    values = DiagonalOperator(11, 0.5, masks, coeffs).values(np.array(outcomes, dtype=np.int64))
    assert values == pytest.approx(expected)


def test_cvar_averages_the_lowest_fraction_of_the_distribution() -> None:
    values = np.array([3.0, -1.0, 0.0, 2.0])
    probabilities = np.array([0.1, 0.2, 0.3, 0.4])
    assert cvar(values, probabilities, 1.0, 100).mean == pytest.approx(values @ probabilities)
    # lowest 30%: all of -1 (0.2) and a third of 0 (0.1)
    assert cvar(values, probabilities, 0.3, 100).mean == pytest.approx((-1 * 0.2 + 0) / 0.3)
    assert cvar(values, probabilities, 0.1, 100).mean == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="alpha"):
        cvar(values, probabilities, 0.0, 100)


# -- one job per step, interim results, reproducibility -----------------------------------------


def test_each_step_is_one_backend_run_and_every_evaluation_is_published(
    catalogue: Any, run_qaoa: Callable[..., Any]
) -> None:
    backend = catalogue.get("ibmq_qasm_simulator")
    log = RunLog(backend)
    result, published = run_qaoa(
        backend,
        operator=maxcut_operator(*HOUSE),
        reps=2,
        optimizer={"name": "SPSA", "maxiter": 5, "learning_rate": 0.1, "perturbation": 0.1},
        aux_operators=[SparsePauliOp("ZIII"), SparsePauliOp("XXXX")],
        shots=100,
        seed=4,
    )
    # Five steps of two points; the final job measures the cost and both aux operators.
    assert log.circuits == [2] * 5 + [3]
    assert result["circuit_runs"] == 6
    assert [message[0] for message in published] == list(range(1, 12))
    assert result["cost_function_evals"] == 11
    assert result["optimizer_history"]["energy"] == [message[2] for message in published]
    names = {"β[0]", "β[1]", "γ[0]", "γ[1]"}  # noqa: RUF001 (Qiskit's QAOA parameter names)
    assert set(result["optimal_parameters"]) == names
    xxxx = result["aux_operator_eigenvalues"][1]
    assert -1 <= xxxx[0] <= 1


def test_the_same_seed_gives_the_same_result(catalogue: Any, run_qaoa: Callable[..., Any]) -> None:
    inputs = {
        "operator": maxcut_operator(*HOUSE),
        "optimizer": {"name": "SPSA", "maxiter": 3},
        "shots": 64,
    }
    first, _ = run_qaoa(catalogue.get("ibmq_bogota"), **inputs, seed=5)
    second, _ = run_qaoa(catalogue.get("ibmq_bogota"), **inputs, seed=5)
    assert np.array_equal(first["optimal_point"], second["optimal_point"])
    assert first["eigenstate"] == second["eigenstate"]


def test_mitigated_runs_give_a_probability_distribution(
    catalogue: Any, run_qaoa: Callable[..., Any]
) -> None:
    result, _ = run_qaoa(
        catalogue.get("ibmq_bogota"),
        operator=maxcut_operator(*HOUSE),
        initial_point=[0.3, 0.5],
        optimizer={"name": "SPSA", "maxiter": 2, "learning_rate": 0.1, "perturbation": 0.1},
        measurement_error_mitigation=True,
        alpha=0.5,
        shots=500,
        seed=6,
    )
    probabilities = list(result["eigenstate"].values())
    assert min(probabilities) >= 0
    assert sum(probabilities) == pytest.approx(1)


# -- bad inputs --------------------------------------------------------------------------------


BAD_INPUTS = [
    ({"operator": None}, "operator", "operator is required"),
    ({"operator": SparsePauliOp.from_list([("XZ", 1.0)])}, "operator", "must be diagonal"),
    ({"operator": SparsePauliOp("Z" * 6)}, "operator", "acts on 6 qubits but ibmq_bogota has 5"),
    ({"reps": 0}, "reps", "at least 1"),
    ({"alpha": 0}, "alpha", "greater than 0 and at most 1"),
    ({"alpha": 1.5}, "alpha", "greater than 0 and at most 1"),
    ({"initial_point": [0.1, 0.2, 0.3]}, "initial_point", "mixer angles \\(beta\\) first"),
    (
        {"operator": SparsePauliOp.from_list([("ZZZI", 1.0)])},
        "use_swap_strategies",
        "more than two qubits",
    ),
    ({"initial_layout": [0, 2, 3, 4]}, "initial_layout", "not a line on ibmq_bogota"),
    ({"use_pulse_efficient": True}, "use_pulse_efficient", "Qiskit 2 removed"),
    ({"use_swap_strategies": "on"}, "use_swap_strategies", "true or false"),
    ({"optimizer": {"name": "SPSA", "blocking": "yes"}}, "optimizer", "blocking must be"),
    ({"mixer": "x"}, "mixer", "qaoa has no input 'mixer'"),
]


@pytest.mark.parametrize(("change", "field", "message"), BAD_INPUTS)
def test_bad_inputs_are_refused_with_a_clear_message(
    catalogue: Any, change: dict[str, Any], field: str, message: str
) -> None:
    backend = catalogue.get("ibmq_bogota")
    log = RunLog(backend)
    inputs = {"operator": maxcut_operator(*HOUSE), **change}
    with pytest.raises(InputError, match=message) as caught:
        main(backend, UserMessenger(sink=lambda _: None), **inputs)
    assert caught.value.field == field
    assert log.batches == [], "nothing runs before the inputs are checked"


# -- a job through the service -----------------------------------------------------------------


@pytest.fixture(scope="module")
def local_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RuntimeProvider]:
    with RuntimeProvider.local(tmp_path_factory.mktemp("qaoa-local")) as provider:
        yield provider


def test_qaoa_runs_as_a_job_of_a_local_runtime(local_provider: RuntimeProvider) -> None:
    num_nodes, edges = HOUSE
    _, optimal = optimal_cuts(num_nodes, edges)
    job = local_provider.runtime.run(
        "qaoa",
        options={"backend_name": "ibmq_qasm_simulator"},
        inputs={
            "operator": maxcut_operator(num_nodes, edges),
            "reps": 1,
            "initial_point": [0.3, 0.5],
            "optimizer": {"name": "COBYLA", "maxiter": 15},
            "seed": 7,
        },
    )
    result = job.result(timeout=300)
    assert result["best_bitstring"] in optimal
    assert result["cost_function_evals"] == len(job.interim_results())
    assert isinstance(result["optimal_point"], np.ndarray)
