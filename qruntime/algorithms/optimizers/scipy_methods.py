"""COBYLA and L-BFGS-B from SciPy, with the options of Qiskit's optimizers of the same names.

COBYLA evaluates one point at a time: each evaluation is one batch. L-BFGS-B needs gradients; each
of its evaluations asks for the point and the ``2n`` points of a central-difference gradient in one
batch. Its step ``eps`` defaults to 0.1 rather than SciPy's 1e-8 because energies estimated from
shots are noisy: a smaller step would measure the noise, not the slope.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize

from qruntime.algorithms.optimizers.base import (
    BatchObjective,
    Optimizer,
    OptimizerResult,
    OptionError,
    Point,
    anything,
    is_none,
    optional_positive_float,
    positive_float,
    positive_int,
)

_QISKIT_SETTINGS: dict[str, Any] = {
    "disp": anything,
    "iprint": anything,
    "max_evals_grouped": anything,
    "callback": is_none,
}


class _ScipyOptimizer(Optimizer):
    """A SciPy method; ``options`` (a dict, as Qiskit's settings nest them) is merged in."""

    accepted_defaults: ClassVar[Mapping[str, Any]] = _QISKIT_SETTINGS

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Self:
        """Build it from options, with those nested under ``options`` taken as given at the top."""
        merged = dict(options)
        nested = merged.pop("options", None)
        if nested is not None:
            if not isinstance(nested, Mapping):
                raise OptionError(f"{cls.name} options must be an object, not {nested!r}")
            for key, value in nested.items():
                merged.setdefault(key, value)
        return super().from_options(merged)


@dataclass(frozen=True)
class COBYLA(_ScipyOptimizer):
    """Constrained optimization by linear approximation (SciPy's, from PRIMA).

    ``maxiter`` bounds the number of evaluations, ``rhobeg`` is the size of the first changes,
    ``tol`` the final size of the trust region.
    """

    maxiter: int = 1000
    rhobeg: float = 1.0
    tol: float | None = None

    name: ClassVar[str] = "COBYLA"
    checks: ClassVar[Mapping[str, Any]] = {
        "maxiter": positive_int,
        "rhobeg": positive_float,
        "tol": optional_positive_float,
    }

    def minimize(
        self, objective: BatchObjective, x0: Point, rng: np.random.Generator
    ) -> OptimizerResult:
        """Minimize with one batch (one point) per evaluation."""

        def value(x: NDArray[np.float64]) -> float:
            return float(objective([np.array(x, dtype=float)]).values[0])

        result = minimize(
            value,
            np.array(x0, dtype=float),
            method="COBYLA",
            tol=self.tol,
            options={"maxiter": self.maxiter, "rhobeg": self.rhobeg},
        )
        return _result(result)


@dataclass(frozen=True)
class LBFGSB(_ScipyOptimizer):
    """Limited-memory BFGS with central-difference gradients, each in one batch.

    ``maxiter`` and ``maxfun`` bound iterations and evaluations; ``ftol`` and ``gtol`` are SciPy's
    stopping tolerances; ``eps`` the step of the finite differences.
    """

    maxiter: int = 15000
    maxfun: int = 15000
    ftol: float = 10 * float(np.finfo(float).eps)
    gtol: float = 1e-5
    eps: float = 0.1

    name: ClassVar[str] = "L-BFGS-B"
    aliases: ClassVar[tuple[str, ...]] = ("L_BFGS_B", "LBFGSB")
    checks: ClassVar[Mapping[str, Any]] = {
        "maxiter": positive_int,
        "maxfun": positive_int,
        "ftol": positive_float,
        "gtol": positive_float,
        "eps": positive_float,
    }

    def minimize(
        self, objective: BatchObjective, x0: Point, rng: np.random.Generator
    ) -> OptimizerResult:
        """Minimize with one batch (the point and its gradient's 2n points) per evaluation."""

        def value_and_gradient(x: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
            point = np.array(x, dtype=float)
            shifts = np.identity(point.size) * self.eps
            points = [
                point,
                *(point + shift for shift in shifts),
                *(point - shift for shift in shifts),
            ]
            values = objective(points).values
            n = point.size
            gradient = (values[1 : n + 1] - values[n + 1 :]) / (2 * self.eps)
            return float(values[0]), gradient

        result = minimize(
            value_and_gradient,
            np.array(x0, dtype=float),
            method="L-BFGS-B",
            jac=True,
            options={
                "maxiter": self.maxiter,
                "maxfun": self.maxfun,
                "ftol": self.ftol,
                "gtol": self.gtol,
            },
        )
        return _result(result, points_per_call=1 + 2 * len(x0))


def _result(result: Any, points_per_call: int = 1) -> OptimizerResult:
    nfev = int(getattr(result, "nfev", 0)) * points_per_call
    return OptimizerResult(
        x=np.asarray(result.x, dtype=float),
        nit=int(getattr(result, "nit", 0) or getattr(result, "nfev", 0)),
        nfev=nfev,
        message=str(getattr(result, "message", "")),
    )
