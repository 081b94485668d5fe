"""qaoa: the quantum approximate optimization algorithm, next to the backend.

Minimizes the expected cost (or its CVaR, with ``alpha`` < 1) of a diagonal ``operator`` over the
angles of ``reps`` QAOA layers. One circuit measures every qubit in the computational basis; it is
transpiled once, routed on device emulators with a line swap strategy when
``use_swap_strategies`` is on, and every optimizer step sends its circuits in one ``backend.run``.
Each evaluation is published as ``[nfev, params, mean, std]``. At the optimal point one more run
gives the final value, the distribution of outcomes (``eigenstate``), the best measured bitstring
and any auxiliary operators.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from qruntime.algorithms.expectation import DiagonalOperator, Estimate, MeasurementPlan, cvar
from qruntime.algorithms.optimizers import SPSA
from qruntime.errors import InputError
from qruntime.programs._variational.circuits import Unbound, build_sampler, overlap_circuit
from qruntime.programs._variational.inputs import (
    Seeds,
    aux_operator_list,
    aux_operator_values,
    check_flag,
    check_fraction,
    check_positive_int,
    load_aux_operators,
    load_initial_point,
    load_operator,
    load_optimizer_input,
    reject_unknown,
)
from qruntime.programs._variational.objective import VariationalObjective, base_result, optimize
from qruntime.programs._variational.sampler import Sample
from qruntime.programs.circuit_runner.options import check_shots

from .ansatz import check_diagonal, qaoa_circuit, terms_by_weight
from .routing import choose_line, route_on_line

DEFAULT_OPTIMIZER = SPSA(maxiter=300)
"""``SPSA(maxiter=300)``, the default of IBM's program."""

_INPUT_NAMES = (
    "operator",
    "reps",
    "initial_point",
    "optimizer",
    "shots",
    "alpha",
    "measurement_error_mitigation",
    "use_swap_strategies",
    "optimization_level",
    "initial_layout",
    "aux_operators",
    "seed",
)

_LEGACY_FLAGS = {
    "use_pulse_efficient": "pulse-efficient transpilation needs pulse, which Qiskit 2 removed",
    "use_initial_mapping": "give the physical qubits as initial_layout instead",
}
"""Inputs of IBM's program that only false is accepted for, and why."""


def main(
    backend: Any,
    user_messenger: Any,
    operator: Any = None,
    reps: Any = 1,
    initial_point: Any = None,
    optimizer: Any = None,
    shots: Any = 1024,
    alpha: Any = 1.0,
    measurement_error_mitigation: Any = False,
    use_swap_strategies: Any = True,
    optimization_level: Any = 1,
    initial_layout: Any = None,
    aux_operators: Any = None,
    seed: Any = None,
    **legacy: Any,
) -> dict[str, Any]:
    """Find a low-cost bitstring of the diagonal ``operator`` with QAOA; see metadata.json.

    Raises:
        InputError: an input is missing or malformed; the message names it.
    """
    reject_unknown(legacy, "qaoa", [*_INPUT_NAMES, *_LEGACY_FLAGS])
    for name, reason in _LEGACY_FLAGS.items():
        if check_flag(legacy.get(name), name, False):
            raise InputError(f"{name} is not supported: {reason}; leave it false", field=name)
    cost = load_operator(operator, "operator")
    check_diagonal(cost)
    num_qubits = cost.num_qubits
    backend_qubits = backend.target.num_qubits or backend.num_qubits
    if backend_qubits is not None and num_qubits > backend_qubits:
        raise InputError(
            f"operator acts on {num_qubits} qubits but {backend.name} has {backend_qubits}",
            field="operator",
        )
    layers = check_positive_int(reps, "reps", 1)
    aux = load_aux_operators(aux_operators, num_qubits)
    seeds = Seeds.from_input(seed)
    start = load_initial_point(
        initial_point,
        2 * layers,
        seeds.initial_point,
        low=-np.pi,
        high=np.pi,
        order=f"the {layers} mixer angles (beta) first, then the {layers} cost angles (gamma)",
    )
    chosen = load_optimizer_input(optimizer, DEFAULT_OPTIMIZER)
    num_shots = check_shots(shots, getattr(backend, "max_shots", None), str(backend.name))
    tail = check_fraction(alpha, "alpha", 1.0)
    mitigate = check_flag(measurement_error_mitigation, "measurement_error_mitigation", False)
    swap = check_flag(use_swap_strategies, "use_swap_strategies", True)

    weights = terms_by_weight(cost)
    state, inputs = qaoa_circuit(cost, layers, weights)
    measured = state.copy()
    measured.measure_all()
    aux_list = aux_operator_list(aux)
    aux_plan = MeasurementPlan.for_operators(aux_list) if aux_list else None
    circuits = [measured, *(aux_plan.circuits(state) if aux_plan else [])]

    line = None
    if swap:
        if any(weight > 2 for weight in weights):
            raise InputError(
                "operator has terms on more than two qubits, which swap strategies cannot "
                "route; set use_swap_strategies to false",
                field="use_swap_strategies",
            )
        line = choose_line(backend, num_qubits, initial_layout)
        if line is not None:
            circuits = route_on_line(circuits, num_qubits)
    unbound: list[Unbound] = [(circuit, inputs) for circuit in circuits]
    overlap_template = None
    if chosen.uses_overlaps:
        overlap, overlap_inputs = overlap_circuit(state)
        if line is not None:
            overlap = route_on_line([overlap], num_qubits)[0]
        overlap_template = len(unbound)
        unbound.append((overlap, overlap_inputs))

    sampler = build_sampler(
        backend,
        unbound,
        shots=num_shots,
        seeds=seeds,
        mitigate=mitigate,
        optimization_level=optimization_level,
        initial_layout=line if line is not None else initial_layout,
        routing_method="none" if line is not None else None,
    )
    diagonal = DiagonalOperator.from_operator(cost)

    def estimate(samples: Sequence[Sample]) -> Estimate:
        outcomes, probabilities = samples[0].probabilities()
        return cvar(diagonal.values(outcomes), probabilities, tail, num_shots)

    objective = VariationalObjective(
        sampler, [0], estimate, user_messenger.publish, overlap_template
    )
    optimization = optimize(chosen, objective, start, seeds.optimizer)

    point = optimization.result.x
    samples = objective.measure(point, range(len(circuits)))
    final = estimate(samples[:1])
    objective.record(point, final)
    result = base_result(optimization, objective, final, [p.name for p in inputs])
    result.update(_solution(samples[0], diagonal, num_qubits))
    aux_estimates = (
        aux_plan.estimate([s.distribution for s in samples[1:]], num_shots) if aux_plan else []
    )
    result["aux_operator_eigenvalues"] = aux_operator_values(aux, aux_estimates)
    result["routing"] = None if line is None else {"swap_strategy": "line", "qubits": line}
    return result


def _solution(sample: Sample, diagonal: DiagonalOperator, num_qubits: int) -> dict[str, Any]:
    """The measured distribution at the optimum, and its lowest-cost bitstring."""
    outcomes, probabilities = sample.probabilities()
    values = diagonal.values(outcomes)
    order = np.argsort(-probabilities, kind="stable")
    eigenstate = {
        format(int(outcomes[i]), f"0{num_qubits}b"): float(probabilities[i])
        for i in order
        if probabilities[i] > 0
    }
    seen = probabilities > 0
    best = int(np.flatnonzero(seen)[np.argmin(values[seen])])
    return {
        "eigenstate": eigenstate,
        "best_bitstring": format(int(outcomes[best]), f"0{num_qubits}b"),
        "best_value": float(values[best]),
    }
