"""vqe: the variational quantum eigensolver, next to the backend.

Minimizes the energy ``<ψ(θ)|H|ψ(θ)>`` of an ``operator`` over the parameters of an ``ansatz``.
The operator's Pauli terms are measured in qubit-wise commuting groups, one circuit per group, with
as few groups as that allows; the circuits are transpiled once, and every optimizer step sends its
circuits (for SPSA: both perturbed points, for every group) in one ``backend.run``. Each evaluation
is published as ``[nfev, params, mean, std]``. At the optimal point one more run estimates the
energy and every auxiliary operator from the same shots.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qruntime.algorithms.expectation import MeasurementPlan
from qruntime.algorithms.optimizers import SPSA
from qruntime.errors import InputError
from qruntime.programs._variational.circuits import Unbound, build_sampler, overlap_circuit
from qruntime.programs._variational.inputs import (
    Seeds,
    aux_operator_list,
    aux_operator_values,
    check_flag,
    load_ansatz,
    load_aux_operators,
    load_initial_point,
    load_operator,
    load_optimizer_input,
    reject_unknown,
)
from qruntime.programs._variational.objective import VariationalObjective, base_result, optimize
from qruntime.programs.circuit_runner.options import check_shots

_INPUT_NAMES = (
    "ansatz",
    "operator",
    "aux_operators",
    "initial_point",
    "optimizer",
    "shots",
    "measurement_error_mitigation",
    "seed",
    "optimization_level",
    "initial_layout",
)

DEFAULT_OPTIMIZER = SPSA(maxiter=100)
"""Qiskit's ``SPSA()``, the default of IBM's program."""

_LEGACY_INPUTS = {"initial_parameters", "store_intermediate"}
"""Inputs of IBM's metadata and of Qiskit Nature's ``VQEProgram``: an alias, and one ignored."""


def main(
    backend: Any,
    user_messenger: Any,
    ansatz: Any = None,
    operator: Any = None,
    aux_operators: Any = None,
    initial_point: Any = None,
    optimizer: Any = None,
    shots: Any = 1024,
    measurement_error_mitigation: Any = False,
    seed: Any = None,
    optimization_level: Any = 1,
    initial_layout: Any = None,
    **legacy: Any,
) -> dict[str, Any]:
    """Find the lowest energy of ``operator`` reachable with ``ansatz``; see metadata.json.

    Raises:
        InputError: an input is missing or malformed; the message names it.
    """
    reject_unknown(legacy, "vqe", [*_INPUT_NAMES, *_LEGACY_INPUTS])
    if initial_point is None:
        initial_point = legacy.get("initial_parameters")
    circuit = load_ansatz(ansatz)
    hamiltonian = load_operator(operator, "operator", circuit.num_qubits)
    aux = load_aux_operators(aux_operators, circuit.num_qubits)
    seeds = Seeds.from_input(seed)
    start = load_initial_point(
        initial_point,
        circuit.num_parameters,
        seeds.initial_point,
        low=-np.pi,
        high=np.pi,
        order="in the order of ansatz.parameters",
    )
    chosen = load_optimizer_input(optimizer, DEFAULT_OPTIMIZER)
    num_shots = check_shots(shots, getattr(backend, "max_shots", None), str(backend.name))
    mitigate = check_flag(measurement_error_mitigation, "measurement_error_mitigation", False)

    aux_list = aux_operator_list(aux)
    plan = MeasurementPlan.for_operators([hamiltonian])
    if not plan.groups:
        raise InputError(
            "operator is a multiple of the identity: every state has the energy "
            f"{plan.constants[0]}, so there is nothing to optimize",
            field="operator",
        )
    final_plan = MeasurementPlan.for_operators([hamiltonian, *aux_list]) if aux_list else plan
    inputs = tuple(circuit.parameters)
    unbound: list[Unbound] = [(c, inputs) for c in plan.circuits(circuit)]
    final_templates = list(range(len(unbound)))
    if final_plan is not plan:
        final_templates = list(range(len(unbound), len(unbound) + len(final_plan.groups)))
        unbound += [(c, inputs) for c in final_plan.circuits(circuit)]
    overlap_template = None
    if chosen.uses_overlaps:
        overlap_template = len(unbound)
        unbound.append(overlap_circuit(circuit))

    sampler = build_sampler(
        backend,
        unbound,
        shots=num_shots,
        seeds=seeds,
        mitigate=mitigate,
        optimization_level=optimization_level,
        initial_layout=initial_layout,
    )
    objective = VariationalObjective(
        sampler,
        range(len(plan.groups)),
        lambda samples: plan.estimate([s.distribution for s in samples], num_shots)[0],
        user_messenger.publish,
        overlap_template,
    )
    optimization = optimize(chosen, objective, start, seeds.optimizer)

    point = optimization.result.x
    samples = objective.measure(point, final_templates)
    estimates = final_plan.estimate([s.distribution for s in samples], num_shots)
    objective.record(point, estimates[0])
    result = base_result(optimization, objective, estimates[0], [p.name for p in inputs])
    result["aux_operator_eigenvalues"] = aux_operator_values(aux, estimates[1:])
    return result
