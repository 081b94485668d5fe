"""SPSA and QN-SPSA, asking for each step's points as one batch.

SPSA (Spall 1992) estimates the gradient from the objective at two points, ``x ± c_k Δ`` with a
random ±1 vector ``Δ``, and steps ``x <- x - a_k g``. Both points go to the objective together, so a
step costs one ``backend.run``; with ``resamplings`` the extra pairs join the same batch.

``second_order`` (2-SPSA) also estimates the Hessian from two more points of the same batch, and
QN-SPSA (Gacon et al. 2021) the Fubini-Study metric from four state overlaps, again in the same
batch; the smoothed, regularized estimate preconditions the gradient.

The options and their defaults are those of Qiskit's ``SPSA`` and ``QNSPSA``, so settings sent by
IBM's clients mean the same here. When neither ``learning_rate`` nor ``perturbation`` is given
they are calibrated as Qiskit did: 25 random steps at the initial point (one more batch) set
``a`` so that the first step has magnitude ``2π/10``; then ``a_k = a / (k + 1)^0.602`` and
``c_k = 0.2 / (k + 1)^0.101``.

``blocking`` keeps a step only if the objective at the new point does not exceed the last kept
value by more than ``allowed_increase``. Qiskit evaluated the new point in a batch of its own;
here it joins the next step's batch, whose perturbed points are taken around it: if it is kept,
that step goes on from it; if not, the step is spent (as a rejected step was in Qiskit) and the
next one starts again from the last kept point. So every step stays one batch; the last candidate
is checked in one more. When ``allowed_increase`` is not given it is twice the standard deviation
that the objective reports at the initial point, instead of that of 25 extra evaluations.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from qruntime.algorithms.optimizers.base import (
    Batch,
    BatchObjective,
    Optimizer,
    OptimizerResult,
    OptionError,
    Point,
    anything,
    flag,
    is_none,
    non_negative_int,
    optional_non_negative_float,
    optional_positive_int,
    positive_int,
)

CALIBRATION_STEPS = 25
"""Random steps at the initial point that calibrate the learning rate (Qiskit's default)."""

CALIBRATION_PERTURBATION = 0.2
"""``c`` of the calibrated perturbation ``c / (k + 1)^gamma`` (Qiskit's default)."""

TARGET_MAGNITUDE = 2 * np.pi / 10
"""The magnitude of the first step that the calibrated learning rate aims at."""

ALPHA = 0.602
"""Exponent of the calibrated learning rate, Spall's choice."""

GAMMA = 0.101
"""Exponent of the calibrated perturbation, Spall's choice."""

Schedule = float | tuple[float, ...] | None
"""A learning rate or perturbation: one value for every step, one value per step, or calibrated."""


def _schedule(key: str, value: Any) -> Schedule:
    if value is None:
        return None
    if isinstance(value, bool):
        raise OptionError(f"{key} must be a number or a list of numbers (one per step)")
    values = np.asarray(value, dtype=object)
    try:
        numbers = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise OptionError(
            f"{key} must be a number or a list of numbers (one per step), not {value!r}"
        ) from None
    if not np.all(np.isfinite(numbers)) or numbers.ndim > 1:
        raise OptionError(f"{key} must be a finite number or a flat list of finite numbers")
    if numbers.ndim == 0:
        return float(numbers)
    return tuple(float(v) for v in numbers)


def _matrix(key: str, value: Any) -> tuple[tuple[float, ...], ...] | None:
    if value is None:
        return None
    try:
        matrix = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise OptionError(f"{key} must be a square matrix of numbers, not {value!r}") from None
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or not np.all(np.isfinite(matrix)):
        raise OptionError(f"{key} must be a square matrix of finite numbers")
    return tuple(tuple(float(v) for v in row) for row in matrix)


@dataclass(frozen=True)
class SPSA(Optimizer):
    """Simultaneous perturbation stochastic approximation; options as in Qiskit's ``SPSA``."""

    maxiter: int = 100
    blocking: bool = False
    allowed_increase: float | None = None
    trust_region: bool = False
    learning_rate: Schedule = None
    perturbation: Schedule = None
    last_avg: int = 1
    resamplings: int = 1
    perturbation_dims: int | None = None
    second_order: bool = False
    regularization: float | None = None
    hessian_delay: int = 0
    initial_hessian: tuple[tuple[float, ...], ...] | None = None

    name: ClassVar[str] = "SPSA"
    checks: ClassVar[dict[str, Any]] = {
        "maxiter": positive_int,
        "blocking": flag,
        "allowed_increase": optional_non_negative_float,
        "trust_region": flag,
        "learning_rate": _schedule,
        "perturbation": _schedule,
        "last_avg": positive_int,
        "resamplings": positive_int,
        "perturbation_dims": optional_positive_int,
        "second_order": flag,
        "regularization": optional_non_negative_float,
        "hessian_delay": non_negative_int,
        "initial_hessian": _matrix,
    }
    accepted_defaults: ClassVar[dict[str, Any]] = {
        "lse_solver": is_none,
        "callback": is_none,
        "termination_checker": is_none,
        "max_evals_grouped": anything,
    }

    def __post_init__(self) -> None:
        if (self.learning_rate is None) != (self.perturbation is None):
            raise OptionError(
                f"{self.name}: give both learning_rate and perturbation, or neither to have "
                "them calibrated"
            )
        for key in ("learning_rate", "perturbation"):
            value = getattr(self, key)
            if isinstance(value, tuple) and len(value) < self.maxiter:
                raise OptionError(
                    f"{self.name}: {key} gives {len(value)} values but maxiter is "
                    f"{self.maxiter}; give one value per step"
                )

    @property
    def preconditioned(self) -> bool:
        """Whether the gradient is preconditioned with a Hessian or metric estimate."""
        return self.second_order

    def minimize(
        self, objective: BatchObjective, x0: Point, rng: np.random.Generator
    ) -> OptimizerResult:
        """Minimize ``objective`` from ``x0`` in ``maxiter`` steps of one batch each."""
        run = _Run(self, objective, np.array(x0, dtype=float), rng)
        return run.minimize()

    def step_points(
        self, x: Point, eps: float, rng: np.random.Generator
    ) -> tuple[list[Point], list[tuple[Point, Point]], list[tuple[Point, Point]]]:
        """The points and overlaps of one step, and the (Δ1, Δ2) of each resampling."""
        points: list[Point] = []
        overlaps: list[tuple[Point, Point]] = []
        deltas = []
        for _ in range(self.resamplings):
            delta1 = self._direction(x.size, rng)
            delta2 = self._direction(x.size, rng) if self.preconditioned else delta1
            deltas.append((delta1, delta2))
            plus, minus = x + eps * delta1, x - eps * delta1
            points += [plus, minus]
            if not self.preconditioned:
                continue
            shifted = [x + eps * (delta1 + delta2), x + eps * (-delta1 + delta2)]
            if self.uses_overlaps:
                overlaps += [(x, plus), (x, minus), (x, shifted[0]), (x, shifted[1])]
            else:
                points += shifted
        return points, overlaps, deltas

    def curvature(
        self, values: NDArray[np.float64], overlaps: NDArray[np.float64], eps: float
    ) -> float:
        """``Δ1ᵀ H Δ2`` of one resampling, from f at ``x ± cΔ1`` and ``x ± cΔ1 + cΔ2``.

        ``values`` holds f at ``x + cΔ1``, ``x - cΔ1``, ``x + c(Δ1 + Δ2)``, ``x + c(-Δ1 + Δ2)``.
        """
        diff = (values[2] - values[0]) - (values[3] - values[1])
        return float(diff / (2 * eps**2))

    def _direction(self, dim: int, rng: np.random.Generator) -> NDArray[np.float64]:
        signs = (2 * rng.integers(0, 2, size=dim) - 1).astype(np.float64)
        if self.perturbation_dims is None or self.perturbation_dims >= dim:
            return signs
        chosen = rng.choice(dim, size=self.perturbation_dims, replace=False)
        delta = np.zeros(dim)
        delta[chosen] = signs[chosen]
        return delta


@dataclass(frozen=True)
class QNSPSA(SPSA):
    """Quantum natural SPSA: SPSA preconditioned with the Fubini-Study metric of the states.

    Options as in Qiskit's ``QNSPSA``; its ``fidelity`` is computed here from the program's own
    circuit, so only ``fidelity=None`` (how a callable arrives over the wire) is accepted.
    """

    blocking: bool = True

    name: ClassVar[str] = "QN-SPSA"
    aliases: ClassVar[tuple[str, ...]] = ("QNSPSA",)
    checks: ClassVar[dict[str, Any]] = {
        key: check
        for key, check in SPSA.checks.items()
        if key not in ("second_order", "trust_region")
    }
    accepted_defaults: ClassVar[dict[str, Any]] = {
        **SPSA.accepted_defaults,
        "fidelity": is_none,
        "second_order": anything,
        # A trust region breaks the natural gradient; Qiskit's QNSPSA turns it off too.
        "trust_region": lambda value: value is None or value is False,
    }

    @property
    def uses_overlaps(self) -> bool:
        """QN-SPSA estimates its metric from state overlaps."""
        return True

    @property
    def preconditioned(self) -> bool:
        """QN-SPSA always preconditions its gradient with the metric."""
        return True

    def curvature(
        self, values: NDArray[np.float64], overlaps: NDArray[np.float64], eps: float
    ) -> float:
        """``Δ1ᵀ g Δ2`` of the metric ``g = -½ ∂²F``, from the overlaps of one resampling.

        ``overlaps`` holds F(x, y) for y = ``x + cΔ1``, ``x - cΔ1``, ``x + c(Δ1 + Δ2)``,
        ``x + c(-Δ1 + Δ2)``.
        """
        diff = (overlaps[2] - overlaps[0]) - (overlaps[3] - overlaps[1])
        return float(-0.5 * diff / (2 * eps**2))


class _Run:
    """One minimization: the state that changes from step to step."""

    def __init__(
        self, optimizer: SPSA, objective: BatchObjective, x0: Point, rng: np.random.Generator
    ) -> None:
        self.optimizer = optimizer
        self.objective = objective
        self.x = x0
        self.rng = rng
        self.nfev = 0
        self.current_value: float | None = None
        self.allowed_increase = optimizer.allowed_increase
        size = x0.size
        initial = optimizer.initial_hessian
        if initial is not None and len(initial) != size:
            raise OptionError(
                f"{optimizer.name}: initial_hessian is {len(initial)}x{len(initial)} but there "
                f"are {size} parameters"
            )
        self.smoothed = np.identity(size) if initial is None else np.array(initial)

    def evaluate(
        self, points: Sequence[Point], overlaps: Sequence[tuple[Point, Point]] = ()
    ) -> Batch:
        batch = self.objective(points, overlaps)
        self.nfev += len(points)
        return batch

    def minimize(self) -> OptimizerResult:
        optimizer = self.optimizer
        learning_rates, perturbations = self._schedules()
        recent: deque[Point] = deque([self.x], maxlen=optimizer.last_avg)
        pending: Point | None = None  # a blocking step's candidate, checked in the next batch
        for k in range(1, optimizer.maxiter + 1):
            base = self.x if pending is None else pending
            step, base_value = self._step(k, perturbations[k - 1], base, pending is not None)
            if pending is not None:
                pending = None
                if not self._accepts(base_value):
                    continue
                self.x = base
                recent.append(base)
            norm = float(np.linalg.norm(step))
            if optimizer.trust_region and norm > 1:
                step = step / norm
            candidate = self.x - learning_rates[k - 1] * step
            if optimizer.blocking:
                pending = candidate
            else:
                self.x = candidate
                recent.append(candidate)
        if pending is not None and self._accepts(float(self.evaluate([pending]).values[0])):
            self.x = pending
            recent.append(pending)
        x = np.mean(recent, axis=0) if optimizer.last_avg > 1 else self.x
        return OptimizerResult(x=x, nit=optimizer.maxiter, nfev=self.nfev)

    def _step(
        self, k: int, eps: float, base: Point, with_base: bool
    ) -> tuple[NDArray[np.float64], float]:
        """The (preconditioned) gradient at ``base`` and, if ``with_base``, the value there."""
        optimizer = self.optimizer
        points, overlaps, deltas = optimizer.step_points(base, eps, self.rng)
        batch = self.evaluate([*points, base] if with_base else points, overlaps)
        per_sample = len(points) // len(deltas)
        gradient = np.zeros(base.size)
        hessian = np.zeros((base.size, base.size))
        for index, (delta1, delta2) in enumerate(deltas):
            values = batch.values[index * per_sample : (index + 1) * per_sample]
            gradient += (values[0] - values[1]) / (2 * eps) * delta1
            if optimizer.preconditioned:
                fidelities = batch.overlaps[index * 4 : (index + 1) * 4]
                curvature = optimizer.curvature(values, fidelities, eps)
                rank_one = np.outer(delta1, delta2)
                hessian += curvature * (rank_one + rank_one.T) / 2
        gradient /= len(deltas)
        base_value = float(batch.values[-1]) if with_base else math.nan
        if not optimizer.preconditioned:
            return gradient, base_value
        self.smoothed = k / (k + 1) * self.smoothed + hessian / len(deltas) / (k + 1)
        if k <= optimizer.hessian_delay:
            return gradient, base_value
        regularization = 0.01 if optimizer.regularization is None else optimizer.regularization
        solved = np.linalg.solve(_positive_definite(self.smoothed, regularization), gradient)
        return np.asarray(solved, dtype=np.float64), base_value

    def _accepts(self, value: float) -> bool:
        """Whether a candidate with this value is kept: it may not rise by allowed_increase."""
        assert self.current_value is not None
        assert self.allowed_increase is not None
        if self.current_value + self.allowed_increase <= value:
            return False
        self.current_value = value
        return True

    def _schedules(self) -> tuple[list[float], list[float]]:
        """The learning rate and perturbation of each step, calibrated if not given.

        Calibration and, with ``blocking``, the value at the initial point share one batch.
        """
        optimizer = self.optimizer
        steps = optimizer.maxiter
        deltas: list[NDArray[np.float64]] = []
        points: list[Point] = []
        if optimizer.learning_rate is None:
            deltas = [optimizer._direction(self.x.size, self.rng) for _ in range(CALIBRATION_STEPS)]
            for delta in deltas:
                points += [
                    self.x + CALIBRATION_PERTURBATION * delta,
                    self.x - CALIBRATION_PERTURBATION * delta,
                ]
        if optimizer.blocking:
            points.append(self.x)
        batch = self.evaluate(points) if points else None
        if optimizer.blocking:
            assert batch is not None
            self.current_value = float(batch.values[-1])
            if self.allowed_increase is None:
                self.allowed_increase = 2 * float(batch.stds[-1])
        if optimizer.learning_rate is None or optimizer.perturbation is None:
            assert batch is not None
            values = batch.values[: 2 * CALIBRATION_STEPS]
            magnitude = float(
                np.mean(np.abs(values[0::2] - values[1::2]) / (2 * CALIBRATION_PERTURBATION))
            )
            a = TARGET_MAGNITUDE / magnitude if magnitude > 1e-10 else TARGET_MAGNITUDE
            learning = [a / (k + 1) ** ALPHA for k in range(steps)]
            perturbing = [CALIBRATION_PERTURBATION / (k + 1) ** GAMMA for k in range(steps)]
            return learning, perturbing
        return _values(optimizer.learning_rate, steps), _values(optimizer.perturbation, steps)


def _values(schedule: float | tuple[float, ...], steps: int) -> list[float]:
    if isinstance(schedule, tuple):
        return list(schedule[:steps])
    return [schedule] * steps


def _positive_definite(matrix: NDArray[np.float64], regularization: float) -> NDArray[np.float64]:
    """``sqrt(M·M) + λI`` for symmetric ``M``: its eigenvalues made positive, then shifted."""
    eigenvalues, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    absolute: NDArray[np.float64] = (vectors * np.abs(eigenvalues)) @ vectors.T
    return absolute + regularization * np.identity(matrix.shape[0])
