"""Pauli terms in qubit-wise commuting groups: one measurement basis, so one circuit, per group.

Two Pauli strings commute qubit-wise when on every qubit one of them is the identity or both are
the same Pauli; every string of such a group is then measured by the same basis change. The fewest
groups is the chromatic number of the graph whose edges join strings that do not commute
qubit-wise. For up to :data:`EXACT_GROUPING_LIMIT` strings it is found exactly by a backtracking
search; beyond that Qiskit's greedy colouring (``PauliList.group_qubit_wise_commuting``) is used.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from qiskit.quantum_info import Pauli, PauliList

EXACT_GROUPING_LIMIT = 16
"""Up to this many distinct Pauli strings, the fewest groups is searched for exactly."""


def qubit_wise_groups(paulis: Sequence[Pauli]) -> list[list[Pauli]]:
    """``paulis`` (distinct, not the identity) in as few qubit-wise commuting groups as found.

    Groups keep the order of ``paulis`` inside them, and come in the order of their first member.
    """
    if not paulis:
        return []
    if len(paulis) > EXACT_GROUPING_LIMIT:
        return [list(group) for group in PauliList(list(paulis)).group_qubit_wise_commuting()]
    conflicts = _conflicts(paulis)
    greedy = PauliList(list(paulis)).group_qubit_wise_commuting()
    colours = _fewest_colours(conflicts, len(greedy))
    if colours is None:
        return [list(group) for group in greedy]
    order: dict[int, list[Pauli]] = {}
    for index, colour in enumerate(colours):
        order.setdefault(colour, []).append(paulis[index])
    return list(order.values())


def commute_qubit_wise(first: Pauli, second: Pauli) -> bool:
    """Whether on every qubit one of the two is the identity or both are the same Pauli."""
    first_used = first.x | first.z
    second_used = second.x | second.z
    same = (first.x == second.x) & (first.z == second.z)
    return bool(np.all(~first_used | ~second_used | same))


def _conflicts(paulis: Sequence[Pauli]) -> list[set[int]]:
    x = np.array([p.x for p in paulis])
    z = np.array([p.z for p in paulis])
    used = x | z
    # conflict[i, j]: some qubit where both act, with different Paulis
    differ = (x[:, None, :] != x[None, :, :]) | (z[:, None, :] != z[None, :, :])
    conflict: NDArray[np.bool_] = np.any(used[:, None, :] & used[None, :, :] & differ, axis=2)
    return [set(np.flatnonzero(row).tolist()) for row in conflict]


def _fewest_colours(conflicts: list[set[int]], upper: int) -> list[int] | None:
    """A colouring with fewer than ``upper`` colours and no fewer possible, or None if none.

    Vertices are coloured most-constrained first; colour ``c`` is tried only once every colour
    below it is in use, so equivalent colourings are not searched twice.
    """
    size = len(conflicts)
    order = sorted(range(size), key=lambda v: -len(conflicts[v]))
    best: list[int] | None = None
    for limit in range(1, upper):
        colours = [-1] * size
        if _colour(order, 0, conflicts, colours, limit, 0):
            best = colours
            break
    return best


def _colour(
    order: list[int],
    position: int,
    conflicts: list[set[int]],
    colours: list[int],
    limit: int,
    used: int,
) -> bool:
    if position == len(order):
        return True
    vertex = order[position]
    taken = {colours[n] for n in conflicts[vertex]}
    for colour in range(min(used + 1, limit)):
        if colour in taken:
            continue
        colours[vertex] = colour
        if _colour(order, position + 1, conflicts, colours, limit, max(used, colour + 1)):
            return True
    colours[vertex] = -1
    return False
