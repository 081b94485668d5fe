"""The objective a variational program minimizes, and the record it keeps of every evaluation.

Each call evaluates a batch of points (and, for QN-SPSA, of state overlaps) with one batch of
circuits: every point's measurement circuits and every overlap circuit go to the backend together.
Each evaluated point is published as an interim result ``[nfev, params, mean, std]``, as IBM's
vqe and qaoa programs did, and kept in the history returned at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qruntime.algorithms.expectation import Estimate
from qruntime.algorithms.optimizers import Batch, Optimizer, OptimizerResult, Point

from .sampler import CircuitSampler, Sample

Estimator = Callable[[Sequence[Sample]], Estimate]
"""Turns the samples of a point's measurement circuits into the objective's value there."""


@dataclass
class History:
    """Every evaluation, in order: its point, estimated value and standard deviation.

    Evaluations are numbered from 1 in order, so their numbers are not kept but derived.
    """

    params: list[NDArray[np.float64]] = field(default_factory=list)
    energy: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The history as IBM's qaoa program returned it (``optimizer_history``)."""
        return {
            "nfevs": list(range(1, len(self.energy) + 1)),
            "params": list(self.params),
            "energy": list(self.energy),
            "std": list(self.std),
        }


class VariationalObjective:
    """A :class:`~qruntime.algorithms.optimizers.BatchObjective` over a job's circuits.

    Args:
        sampler: runs the job's transpiled circuits.
        templates: the indices of the templates that measure one point.
        estimate: the value at a point from the samples of those templates.
        publish: sends an interim result.
        overlap_template: the index of the template that measures the overlap of two points
            (parameters: the first point's, then the second's), if any.
    """

    def __init__(
        self,
        sampler: CircuitSampler,
        templates: Sequence[int],
        estimate: Estimator,
        publish: Callable[[Any], None],
        overlap_template: int | None = None,
    ) -> None:
        self.sampler = sampler
        self.templates = list(templates)
        self.estimate = estimate
        self.publish = publish
        self.overlap_template = overlap_template
        self.history = History()

    @property
    def nfev(self) -> int:
        """How many points have been evaluated."""
        return len(self.history.energy)

    def __call__(
        self, points: Sequence[Point], overlaps: Sequence[tuple[Point, Point]] = ()
    ) -> Batch:
        """Evaluate every point and overlap with one batch of circuits."""
        requests = [(index, np.asarray(point)) for point in points for index in self.templates]
        if overlaps:
            if self.overlap_template is None:
                raise RuntimeError("this objective was built without an overlap circuit")
            requests += [
                (self.overlap_template, np.concatenate([first, second]))
                for first, second in overlaps
            ]
        samples = self.sampler.sample(requests)
        per_point = len(self.templates)
        values, stds = [], []
        for number, point in enumerate(points):
            estimate = self.estimate(samples[number * per_point : (number + 1) * per_point])
            self.record(np.asarray(point), estimate)
            values.append(estimate.mean)
            stds.append(estimate.std)
        fidelities = [
            min(max(sample.weight_of(0), 0.0), 1.0) for sample in samples[len(points) * per_point :]
        ]
        return Batch(np.array(values), np.array(stds), np.array(fidelities))

    def measure(self, point: Point, templates: Sequence[int]) -> list[Sample]:
        """Run the given templates at ``point`` (one batch) and return their samples."""
        return self.sampler.sample([(index, np.asarray(point)) for index in templates])

    def record(self, point: NDArray[np.float64], estimate: Estimate) -> None:
        """Keep an evaluation in the history and publish it as ``[nfev, params, mean, std]``."""
        nfev = self.nfev + 1
        params = point.copy()
        self.history.params.append(params)
        self.history.energy.append(estimate.mean)
        self.history.std.append(estimate.std)
        self.publish([nfev, params, estimate.mean, estimate.std])


@dataclass(frozen=True)
class Optimization:
    """An optimizer's result and the seconds it took, circuit runs included."""

    result: OptimizerResult
    seconds: float


def optimize(
    optimizer: Optimizer,
    objective: VariationalObjective,
    initial_point: Point,
    rng: np.random.Generator,
) -> Optimization:
    """Run ``optimizer`` on ``objective`` from ``initial_point``, timing it."""
    started = time.perf_counter()
    result = optimizer.minimize(objective, initial_point, rng)
    return Optimization(result, time.perf_counter() - started)


def base_result(
    optimization: Optimization,
    objective: VariationalObjective,
    final: Estimate,
    parameter_names: Sequence[str],
) -> dict[str, Any]:
    """The result keys vqe and qaoa share, from the optimization and the final evaluation."""
    point = optimization.result.x
    return {
        "optimal_point": np.array(point, dtype=float),
        "optimal_parameters": {
            name: float(value) for name, value in zip(parameter_names, point, strict=True)
        },
        "optimal_value": final.mean,
        "eigenvalue": final.mean,
        "eigenvalue_std": final.std,
        "cost_function_evals": objective.nfev,
        "optimizer_evals": optimization.result.nit,
        "optimizer_time": optimization.seconds,
        "optimizer_history": objective.history.to_dict(),
        "circuit_runs": objective.sampler.runs,
    }
