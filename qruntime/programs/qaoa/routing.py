"""Routing QAOA circuits with a line swap strategy (Qiskit's commuting 2-qubit gate routing).

The two-qubit terms of a cost operator commute, so their gates may be applied in any order. A swap
strategy exploits this: on a line of ``n`` qubits, ``n - 2`` layers of swaps bring every pair of
qubits next to each other once, and each term's gate is applied as soon as its pair is adjacent.
That gives circuits of predictable depth, usually shallower than general-purpose routing.

The program picks a line of physical qubits on the backend (the one with the lowest sum of
two-qubit and readout errors, or the ``initial_layout`` given), routes the circuits on it with
``FindCommutingPauliEvolutions`` + ``Commuting2qGateRouter`` before transpiling, and transpiles
with that layout and no further routing. Measurements and the gates between the commuting blocks
follow the qubits as the swaps move them, so every circuit's outcomes keep their meaning.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from qiskit import QuantumCircuit
from qiskit.transpiler import CouplingMap, PassManager
from qiskit.transpiler.passes.routing.commuting_2q_gate_routing import (
    Commuting2qGateRouter,
    FindCommutingPauliEvolutions,
    SwapStrategy,
)

from qruntime.errors import InputError

MAX_PATHS_EXPLORED = 50_000
"""Bound on the search for the best line, for large devices (a line is found long before)."""


def route_on_line(circuits: Sequence[QuantumCircuit], num_qubits: int) -> list[QuantumCircuit]:
    """``circuits`` routed with a line swap strategy on virtual qubits ``0 .. num_qubits - 1``.

    Neighbouring qubits ``i`` and ``i + 1`` are adjacent; the result still needs the layout that
    places virtual qubit ``i`` on the ``i``-th qubit of the chosen line.
    """
    if num_qubits < 3:
        return list(circuits)  # every pair of at most two qubits on a line is already adjacent
    strategy = SwapStrategy.from_line(list(range(num_qubits)))
    # Alternate colours put the gates of one sub-layer on disjoint edges, next to their swaps.
    colouring = {}
    for qubit in range(num_qubits - 1):
        colouring[(qubit, qubit + 1)] = colouring[(qubit + 1, qubit)] = (qubit + 1) % 2
    pass_manager = PassManager(
        [FindCommutingPauliEvolutions(), Commuting2qGateRouter(strategy, colouring)]
    )
    routed: list[QuantumCircuit] = [pass_manager.run(circuit) for circuit in circuits]
    return routed


def choose_line(backend: Any, num_qubits: int, initial_layout: Any) -> list[int] | None:
    """The physical qubits, in order along a line, to route on; None if the backend needs none.

    A backend without a coupling map connects every pair of qubits, so nothing is routed.
    """
    coupling_map: CouplingMap | None = backend.coupling_map
    if coupling_map is None:
        return None
    edges = {tuple(sorted(edge)) for edge in coupling_map.get_edges()}
    if initial_layout is not None:
        return _checked_line(initial_layout, num_qubits, edges, str(backend.name))
    line = best_line(
        edges, num_qubits, _edge_errors(backend.target), _readout_errors(backend.target)
    )
    if line is None:
        raise InputError(
            f"{backend.name} has no line of {num_qubits} connected qubits for the swap strategy; "
            "set use_swap_strategies to false to route with the transpiler instead",
            field="use_swap_strategies",
        )
    return line


def best_line(
    edges: set[tuple[int, ...]],
    length: int,
    edge_errors: dict[tuple[int, ...], float],
    readout_errors: dict[int, float],
) -> list[int] | None:
    """The simple path of ``length`` qubits with the lowest summed errors, or None if none.

    Paths are explored depth first from every qubit in ascending order; the first of equally good
    paths wins, so the choice is the same every time.
    """
    neighbours: dict[int, list[int]] = {}
    for first, second in edges:
        neighbours.setdefault(first, []).append(second)
        neighbours.setdefault(second, []).append(first)
    if length == 1:
        qubits = sorted(neighbours) or [0]
        return [min(qubits, key=lambda qubit: readout_errors.get(qubit, 0.0))]
    best: tuple[float, list[int]] | None = None
    explored = 0
    for start in sorted(neighbours):
        stack: list[tuple[list[int], float]] = [([start], readout_errors.get(start, 0.0))]
        while stack and explored < MAX_PATHS_EXPLORED:
            path, score = stack.pop()
            explored += 1
            if best is not None and score >= best[0]:
                continue
            if len(path) == length:
                best = (score, path)
                continue
            for nxt in sorted(neighbours.get(path[-1], []), reverse=True):
                if nxt not in path:
                    added = edge_errors.get(tuple(sorted((path[-1], nxt))), 0.0)
                    stack.append(([*path, nxt], score + added + readout_errors.get(nxt, 0.0)))
    return None if best is None else best[1]


def _checked_line(
    layout: Any, num_qubits: int, edges: set[tuple[int, ...]], backend_name: str
) -> list[int]:
    if not isinstance(layout, list | tuple) or len(layout) != num_qubits:
        raise InputError(
            f"initial_layout must list {num_qubits} physical qubits, one per qubit of the "
            f"operator, forming a line on {backend_name}; got {layout!r}",
            field="initial_layout",
        )
    line = [int(qubit) for qubit in layout]
    for first, second in itertools.pairwise(line):
        if tuple(sorted((first, second))) not in edges:
            raise InputError(
                f"initial_layout {line} is not a line on {backend_name}: qubits {first} and "
                f"{second} are not coupled. With use_swap_strategies, neighbours in "
                "initial_layout must be coupled",
                field="initial_layout",
            )
    if len(set(line)) != len(line):
        raise InputError(f"initial_layout {line} repeats a qubit", field="initial_layout")
    return line


def _edge_errors(target: Any) -> dict[tuple[int, ...], float]:
    """The lowest error of any two-qubit gate on each coupled pair (either direction)."""
    errors: dict[tuple[int, ...], float] = {}
    for name in target.operation_names:
        for qargs, properties in (target[name] or {}).items():
            if qargs is None or len(qargs) != 2 or properties is None:
                continue
            if properties.error is None:
                continue
            key = tuple(sorted(qargs))
            errors[key] = min(errors.get(key, properties.error), properties.error)
    return errors


def _readout_errors(target: Any) -> dict[int, float]:
    if "measure" not in target.operation_names:
        return {}
    return {
        qargs[0]: properties.error
        for qargs, properties in (target["measure"] or {}).items()
        if qargs is not None and properties is not None and properties.error is not None
    }
