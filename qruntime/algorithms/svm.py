"""The soft-margin support vector machine of a precomputed kernel, solved in its dual form.

For a kernel matrix ``K`` of ``N`` training points with labels ``y`` (±1) and penalty ``C``, the
dual problem is the quadratic program

    maximize  F(a) = Σ a_i - ½ Σ a_i a_j y_i y_j K_ij   subject to  0 ≤ a_i ≤ C,  Σ a_i y_i = 0,

``a`` being the dual coefficients (alpha).

Its optimum ``F*`` is the cost that quantum kernel alignment minimizes over the kernel parameters
(a smaller ``F*`` means a larger margin). The classifier is then
``sign(Σ a_i y_i K(x, x_i) + b)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize

from qruntime.errors import InputError, QRuntimeError

_SUPPORT = 1e-8
"""Coefficients within this distance of 0 or ``C`` count as being at that bound."""


@dataclass(frozen=True)
class SVMSolution:
    """The solution of the dual problem: what classifying a new point needs.

    Attributes:
        dual_coefficients: ``a`` (alpha), one per training point.
        labels: the training labels ``y``, ±1.
        objective: the optimum ``F*`` of the dual problem.
        bias: the offset ``b`` of the decision function.
        C: the penalty the problem was solved with.
    """

    dual_coefficients: NDArray[np.float64]
    labels: NDArray[np.float64]
    objective: float
    bias: float
    C: float

    def decision_function(self, kernel: ArrayLike) -> NDArray[np.float64]:
        """``Σ a_i y_i K(x, x_i) + b`` for each row of ``kernel`` (new points x training points)."""
        matrix = np.atleast_2d(np.asarray(kernel, dtype=float))
        if matrix.shape[1] != self.labels.size:
            raise InputError(
                f"The kernel must have one column per training point ({self.labels.size}); got "
                f"shape {matrix.shape}.",
                field="kernel",
            )
        values: NDArray[np.float64] = matrix @ (self.dual_coefficients * self.labels) + self.bias
        return values

    def predict(self, kernel: ArrayLike) -> NDArray[np.float64]:
        """The predicted label, +1 or -1, of each row of ``kernel``."""
        return np.where(self.decision_function(kernel) >= 0, 1.0, -1.0)


def solve_svm_dual(kernel: ArrayLike, labels: ArrayLike, C: float = 1.0) -> SVMSolution:
    """Solve the dual problem of the soft-margin SVM for a training kernel matrix.

    Raises:
        InputError: the kernel is not square, the labels are not ±1 with both present and one
            per training point, or ``C`` is not positive.
        QRuntimeError: the solver found no solution.
    """
    matrix = np.asarray(kernel, dtype=float)
    y = check_labels(labels)
    if matrix.ndim != 2 or matrix.shape != (y.size, y.size):
        raise InputError(
            f"The training kernel must be a square matrix with one row per label ({y.size}); "
            f"got shape {matrix.shape}.",
            field="kernel",
        )
    if not C > 0:
        raise InputError(f"C must be positive; got {C!r}.", field="C")
    q = np.outer(y, y) * matrix
    q = (q + q.T) / 2

    def negative_objective(alpha: NDArray[np.float64]) -> float:
        return float(0.5 * alpha @ q @ alpha - alpha.sum())

    def gradient(alpha: NDArray[np.float64]) -> NDArray[np.float64]:
        values: NDArray[np.float64] = q @ alpha - 1.0
        return values

    solution = minimize(
        negative_objective,
        np.zeros(y.size),
        jac=gradient,
        method="SLSQP",
        bounds=[(0.0, C)] * y.size,
        constraints=[{"type": "eq", "fun": lambda alpha: y @ alpha, "jac": lambda _: y}],
        options={"ftol": 1e-12, "maxiter": 10_000},
    )
    alpha = np.clip(solution.x, 0.0, C)
    if not np.all(np.isfinite(alpha)):
        raise QRuntimeError(f"The SVM dual problem could not be solved: {solution.message}")
    return SVMSolution(
        dual_coefficients=alpha,
        labels=y,
        objective=-negative_objective(alpha),
        bias=_bias(alpha, y, matrix, C),
        C=float(C),
    )


def check_labels(labels: ArrayLike) -> NDArray[np.float64]:
    """The labels as a float array of ±1; refuse anything else, or a single class."""
    y = np.asarray(labels, dtype=float).reshape(-1)
    if y.size == 0 or not np.all(np.isin(y, (-1.0, 1.0))):
        raise InputError("labels must be +1 or -1, one per data point.", field="labels")
    if np.all(y == y[0]):
        raise InputError(
            "labels must hold both classes, +1 and -1, to separate them.", field="labels"
        )
    return y


def balanced_accuracy(labels: ArrayLike, predicted: ArrayLike) -> float:
    """The mean over the classes of the fraction of each class predicted right."""
    truth = np.asarray(labels).reshape(-1)
    guess = np.asarray(predicted).reshape(-1)
    if truth.shape != guess.shape:
        raise InputError(
            f"{truth.size} labels but {guess.size} predictions; give one prediction per label.",
            field="predicted",
        )
    recalls = [float(np.mean(guess[truth == label] == label)) for label in np.unique(truth)]
    return float(np.mean(recalls))


def _bias(
    alpha: NDArray[np.float64], y: NDArray[np.float64], kernel: NDArray[np.float64], C: float
) -> float:
    """The offset ``b`` that satisfies the KKT conditions of the solution.

    Points strictly inside the bounds lie on the margin and fix ``b``; when there are none,
    the points at the bounds only bound it, and ``b`` is the middle of the allowed interval.
    """
    # b that would put each point exactly on the margin.
    on_margin = y - kernel @ (alpha * y)
    free = (alpha > _SUPPORT * C) & (alpha < C - _SUPPORT * C)
    if np.any(free):
        return float(np.mean(on_margin[free]))
    at_zero = alpha <= _SUPPORT * C
    # A point at a = 0 has y·f ≥ 1, one at a = C has y·f ≤ 1: each bounds b from one side.
    from_below = (at_zero & (y > 0)) | (~at_zero & (y < 0))
    lower = on_margin[from_below].max(initial=-np.inf)
    upper = on_margin[~from_below].min(initial=np.inf)
    if np.isfinite(lower) and np.isfinite(upper):
        return float((lower + upper) / 2)
    return float(lower if np.isfinite(lower) else upper)
