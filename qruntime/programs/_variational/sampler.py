"""Running parameterized circuits: transpiled once, one ``backend.run`` for each batch of points.

A :class:`CircuitSampler` holds the job's circuits transpiled for the backend with their parameters
still free (transpiling is the slow part and does not depend on the values). A batch of requests
(template, parameter values) is sent as one ``backend.run``, split only where it holds more
circuits than the backend takes in one job. On Aer the templates go as they are, with every
request's values as Aer's ``parameter_binds`` (Aer binds them itself: faster than binding in
Python); on any other backend each request is bound here first. Either way the experiments run
in the same order, template by template, so with the same seed both give the same samples. With
measurement error mitigation, an M3 mitigator calibrated once for the job corrects every outcome
distribution.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.exceptions import QiskitError
from qiskit.result import QuasiDistribution
from qiskit_aer import AerSimulator

from qruntime.algorithms.expectation import Distribution
from qruntime.errors import InputError, QRuntimeError
from qruntime.programs.circuit_runner.mitigation import (
    calibrated_mitigator,
    final_measurement_mappings,
)

logger = logging.getLogger(__name__)

SEED_RANGE = 2**31 - 1
"""Seeds drawn for the simulator stay in Aer's (signed 32-bit) range."""


@dataclass(frozen=True)
class Template:
    """A transpiled circuit whose free parameters are given, per request, as one vector.

    ``inputs`` orders the parameters a request's vector holds (an ansatz's parameters; two copies
    of them for an overlap circuit); the transpiled circuit may have dropped some.
    """

    circuit: QuantumCircuit
    inputs: tuple[Parameter, ...]

    @cached_property
    def _parameters(self) -> list[Parameter]:
        return list(self.circuit.parameters)

    @cached_property
    def _order(self) -> list[int]:
        position = {parameter: index for index, parameter in enumerate(self.inputs)}
        return [position[parameter] for parameter in self._parameters]

    @property
    def parameterized(self) -> bool:
        """Whether the transpiled circuit kept any free parameter."""
        return bool(self._parameters)

    def binds(self, rows: Sequence[NDArray[np.float64]]) -> dict[Parameter, list[float]]:
        """Aer's ``parameter_binds`` for this (parameterized) circuit: each parameter's value in
        every row; the circuit runs once for each row."""
        table = np.asarray(rows, dtype=float)[:, self._order]
        return {
            parameter: column
            for parameter, column in zip(self._parameters, table.T.tolist(), strict=True)
        }

    def bind(self, values: NDArray[np.float64]) -> QuantumCircuit:
        """The circuit with ``values`` (ordered as ``inputs``) assigned.

        Assigned in place on a copy, from Python floats: half the time of
        ``assign_parameters(array)`` on a small circuit, which counts in every optimizer step.
        """
        bound = self.circuit.copy()
        bound.assign_parameters(values[self._order].tolist(), inplace=True)
        return bound


@dataclass(frozen=True)
class Sample:
    """The measured distribution of one circuit: probabilities, or M3 quasi-probabilities."""

    outcomes: NDArray[np.int64]
    weights: NDArray[np.float64]
    mitigated: bool

    @property
    def distribution(self) -> Distribution:
        """Outcomes and weights, for estimating expectation values (quasi-probabilities kept)."""
        return self.outcomes, self.weights

    def probabilities(self) -> Distribution:
        """A probability distribution: the nearest one to the quasi-probabilities if mitigated."""
        if not self.mitigated or np.all(self.weights >= 0):
            return self.outcomes, self.weights / self.weights.sum()
        nearest = QuasiDistribution(
            dict(zip(self.outcomes.tolist(), self.weights.tolist(), strict=True))
        ).nearest_probability_distribution()
        outcomes = np.array(list(nearest), dtype=np.int64)
        return outcomes, np.array([nearest[o] for o in outcomes.tolist()], dtype=float)

    def weight_of(self, outcome: int) -> float:
        """The (quasi-)probability of ``outcome``."""
        hits = self.weights[self.outcomes == outcome]
        return float(hits.sum())


class CircuitSampler:
    """Runs batches of bound templates on a backend, counting the runs.

    Args:
        backend: the job's backend.
        templates: the transpiled circuits, each measuring into one classical register.
        shots: shots of every circuit.
        seeds: draws the ``seed_simulator`` of each run; None leaves sampling unseeded.
        mitigate: calibrate M3 once on the measured qubits and correct every distribution.
        num_backend_qubits: the backend's width, for M3's calibration circuits.
    """

    def __init__(
        self,
        backend: Any,
        templates: Sequence[Template],
        shots: int,
        seeds: np.random.Generator | None,
        mitigate: bool,
        num_backend_qubits: int | None,
    ) -> None:
        self.backend = backend
        self.templates = list(templates)
        self.shots = shots
        self.runs = 0
        self._seeds = seeds
        self._aer = isinstance(getattr(backend, "wrapped", backend), AerSimulator)
        self._mitigator: Any = None
        self._measured_qubits: list[list[int]] = []
        if mitigate:
            mappings = final_measurement_mappings([t.circuit for t in self.templates])
            self._measured_qubits = [
                [mapping[clbit] for clbit in sorted(mapping)] for mapping in mappings
            ]
            qubits = sorted({q for measured in self._measured_qubits for q in measured})
            self._mitigator = calibrated_mitigator(
                backend, num_backend_qubits, qubits, self._next_seed()
            )

    def sample(self, requests: Sequence[tuple[int, NDArray[np.float64]]]) -> list[Sample]:
        """Run every (template index, values) request; a sample for each, in order."""
        if not requests:
            return []
        limit = getattr(self.backend, "max_circuits", None) or len(requests)
        if len(requests) > limit:
            logger.info(
                "%d circuits are more than %s runs in one job; running them in %d jobs",
                len(requests),
                self.backend.name,
                -(-len(requests) // limit),
            )
        samples: list[Sample] = []
        for start in range(0, len(requests), limit):
            chunk = requests[start : start + limit]
            counts = self._run(chunk)
            samples += [
                self._sample(index, hex_counts)
                for (index, _), hex_counts in zip(chunk, counts, strict=True)
            ]
        return samples

    def _run(self, requests: Sequence[tuple[int, NDArray[np.float64]]]) -> list[dict[str, int]]:
        """Run one backend job of ``requests``; the counts of each, in the order given."""
        rows: dict[int, list[int]] = {}  # template index -> its requests, in the order given
        for position, (index, _) in enumerate(requests):
            rows.setdefault(index, []).append(position)
        order = [position for positions in rows.values() for position in positions]
        options: dict[str, Any] = {"shots": self.shots}
        seed = self._next_seed()
        if seed is not None:
            options["seed_simulator"] = seed
        if self._aer:
            circuits = []
            binds = []
            for index, positions in rows.items():
                template = self.templates[index]
                if template.parameterized:
                    circuits.append(template.circuit)
                    binds.append(template.binds([requests[p][1] for p in positions]))
                else:  # Aer runs a circuit without parameters once: list it for each request
                    circuits += [template.circuit] * len(positions)
                    binds += [{}] * len(positions)
            options["parameter_binds"] = binds
        else:
            circuits = [self.templates[requests[p][0]].bind(requests[p][1]) for p in order]
        counts = self._counts(circuits, options, len(order))
        in_order: list[dict[str, int]] = [{}] * len(order)
        for position, hex_counts in zip(order, counts, strict=True):
            in_order[position] = hex_counts
        return in_order

    def _counts(
        self, circuits: list[QuantumCircuit], options: dict[str, Any], experiments: int
    ) -> list[dict[str, int]]:
        name = str(self.backend.name)
        try:
            result = self.backend.run(circuits, **options).result()
        except QRuntimeError:
            raise
        except (QiskitError, TypeError, ValueError) as error:
            raise InputError(f"{name} cannot run the circuits: {error}") from error
        self.runs += 1
        if not result.success:
            failures = [
                str(experiment.status) for experiment in result.results if not experiment.success
            ]
            raise QRuntimeError(
                f"{name} could not run the circuits: " + ("; ".join(failures) or result.status)
            )
        if len(result.results) != experiments:
            raise QRuntimeError(
                f"{name} returned {len(result.results)} results for {experiments} circuits"
            )
        return [dict(experiment.data.counts) for experiment in result.results]

    def _sample(self, index: int, hex_counts: dict[str, int]) -> Sample:
        outcomes = np.array([int(key, 16) for key in hex_counts], dtype=np.int64)
        counts = np.array(list(hex_counts.values()), dtype=float)
        if self._mitigator is None:
            return Sample(outcomes, counts / counts.sum(), mitigated=False)
        qubits = self._measured_qubits[index]
        width = len(qubits)
        bitstrings = {
            format(int(o), f"0{width}b"): int(c) for o, c in zip(outcomes, counts, strict=True)
        }
        quasi = self._mitigator.apply_correction(bitstrings, qubits)
        return Sample(
            np.array([int(key, 2) for key in quasi], dtype=np.int64),
            np.array([float(value) for value in quasi.values()], dtype=float),
            mitigated=True,
        )

    def _next_seed(self) -> int | None:
        return None if self._seeds is None else int(self._seeds.integers(SEED_RANGE))
