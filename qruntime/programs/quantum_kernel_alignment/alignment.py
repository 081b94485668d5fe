"""Quantum kernel alignment: SPSA over the kernel parameters, an SVM dual problem at each point.

The alignment solves ``min over λ of max over a of F(a, K(λ))``, where ``F`` is the objective of
the soft-margin SVM's dual problem on the training kernel ``K(λ)`` (see
:mod:`qruntime.algorithms.svm`). The inner maximum is a quadratic program, solved exactly; the
outer minimum takes SPSA steps, each estimating the gradient from the costs at two points
``λ ± c_k Δ_k``. Gains and perturbations follow IBM's program, so that a run with the same data
and initial point takes the same steps: ``a_k = a / (k + 1 + A)^alpha``, ``c_k = c / (k + 1)^gamma``
with a = 0.05, c = 0.1, alpha = 0.602, gamma = 0.101, A = 0, and ``Δ_k`` the ±1 signs drawn by
``numpy.random.RandomState(k)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.random import RandomState
from numpy.typing import NDArray

from qruntime.algorithms import KernelMatrix, solve_svm_dual

AVERAGED_FRACTION = 0.10
"""The final kernel parameters are the mean of this last fraction of the steps' parameters."""


@dataclass(frozen=True)
class SPSASchedule:
    """The gain sequences and perturbations of the alignment's SPSA steps (step ``k`` from 0)."""

    a: float = 0.05
    c: float = 0.1
    alpha: float = 0.602
    gamma: float = 0.101
    A: float = 0.0

    def learning_rate(self, k: int) -> float:
        """``a_k``: the size of step ``k``."""
        return float(self.a / (k + 1 + self.A) ** self.alpha)

    def perturbation(self, k: int) -> float:
        """``c_k``: how far step ``k`` probes each side of the current point."""
        return float(self.c / (k + 1) ** self.gamma)

    @staticmethod
    def direction(k: int, size: int) -> NDArray[np.int64]:
        """``Δ_k``: a sign per parameter, the same for a given ``k`` in every run."""
        signs: NDArray[np.int64] = 2 * RandomState(k).randint(0, 2, size=size) - 1
        return signs


@dataclass(frozen=True)
class AlignmentStep:
    """What one SPSA step publishes: the mean cost of its two probes, and the new parameters."""

    cost: float
    kernel_parameters: NDArray[np.float64]

    def to_interim_result(self) -> dict[str, Any]:
        """The interim result ``{"cost", "kernel_parameters"}``."""
        return {"cost": self.cost, "kernel_parameters": self.kernel_parameters}


@dataclass(frozen=True)
class AlignmentResult:
    """The aligned kernel parameters and the training kernel matrix they give."""

    aligned_kernel_parameters: NDArray[np.float64]
    aligned_kernel_matrix: NDArray[np.float64]

    def to_dict(self) -> dict[str, Any]:
        """The program's result ``{"aligned_kernel_parameters", "aligned_kernel_matrix"}``."""
        return {
            "aligned_kernel_parameters": self.aligned_kernel_parameters,
            "aligned_kernel_matrix": self.aligned_kernel_matrix,
        }


class QKA:
    """Aligns the kernel of ``kernel_matrix``'s feature map to a training set.

    Args:
        kernel_matrix: computes the training kernels, on the job's backend.
        C: the penalty of the soft-margin SVM.
        schedule: the SPSA gains and perturbations.
    """

    def __init__(
        self, kernel_matrix: KernelMatrix, C: float = 1.0, schedule: SPSASchedule | None = None
    ) -> None:
        self.kernel_matrix = kernel_matrix
        self.C = C
        self.schedule = schedule or SPSASchedule()

    def align_kernel(
        self,
        data: NDArray[np.float64],
        labels: NDArray[np.float64],
        initial_kernel_parameters: NDArray[np.float64],
        maxiters: int = 1,
        callback: Callable[[AlignmentStep], None] | None = None,
    ) -> AlignmentResult:
        """Take ``maxiters`` SPSA steps from ``initial_kernel_parameters``.

        Each step computes the two training kernels ``K(λ ± c_k Δ_k)`` together (one batch of
        circuits) and calls ``callback`` with its :class:`AlignmentStep`. The aligned
        parameters are the mean of the last 10% of the steps' parameters (the last step's
        when that is less than one step).
        """
        lambdas = np.asarray(initial_kernel_parameters, dtype=float).reshape(-1)
        history: list[NDArray[np.float64]] = []
        for k in range(maxiters):
            step = self.step(k, data, labels, lambdas)
            lambdas = step.kernel_parameters
            history.append(lambdas)
            if callback is not None:
                callback(step)
        count = int(AVERAGED_FRACTION * maxiters)
        aligned = np.mean(history[-count:], axis=0) if count else lambdas
        kernel = self.kernel_matrix.construct_kernel_matrix(data, data, aligned)
        return AlignmentResult(aligned_kernel_parameters=aligned, aligned_kernel_matrix=kernel)

    def step(
        self,
        k: int,
        data: NDArray[np.float64],
        labels: NDArray[np.float64],
        lambdas: NDArray[np.float64],
    ) -> AlignmentStep:
        """SPSA step ``k`` from the kernel parameters ``lambdas``."""
        c_k = self.schedule.perturbation(k)
        delta = self.schedule.direction(k, lambdas.size)
        plus, minus = self.kernel_matrix.construct_kernel_matrices(
            data, data, [lambdas + c_k * delta, lambdas - c_k * delta]
        )
        cost_plus = solve_svm_dual(plus, labels, self.C).objective
        cost_minus = solve_svm_dual(minus, labels, self.C).objective
        gradient = (cost_plus - cost_minus) * delta / (2 * c_k)
        updated = (lambdas - self.schedule.learning_rate(k) * gradient).reshape(-1)
        return AlignmentStep(cost=(cost_plus + cost_minus) / 2, kernel_parameters=updated)
