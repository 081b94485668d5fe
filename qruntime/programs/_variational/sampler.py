"""Running parameterized circuits: transpiled once, bound per point, one ``backend.run`` per batch.

A :class:`CircuitSampler` holds the job's circuits transpiled for the backend with their parameters
still free (transpiling is the slow part and does not depend on the values). A batch of requests
(template, parameter values) is bound and sent as one ``backend.run``, split only where it holds
more circuits than the backend takes in one job. With measurement error mitigation, an M3
mitigator calibrated once for the job corrects every outcome distribution.
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
    def _order(self) -> list[int]:
        position = {parameter: index for index, parameter in enumerate(self.inputs)}
        return [position[parameter] for parameter in self.circuit.parameters]

    def bind(self, values: NDArray[np.float64]) -> QuantumCircuit:
        """The circuit with ``values`` (ordered as ``inputs``) assigned."""
        bound: QuantumCircuit = self.circuit.assign_parameters(values[self._order])
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
        """Bind each (template index, values) request and run them all; a sample for each."""
        if not requests:
            return []
        circuits = [self.templates[index].bind(values) for index, values in requests]
        limit = getattr(self.backend, "max_circuits", None) or len(circuits)
        if len(circuits) > limit:
            logger.info(
                "%d circuits are more than %s runs in one job; running them in %d jobs",
                len(circuits),
                self.backend.name,
                -(-len(circuits) // limit),
            )
        samples: list[Sample] = []
        for start in range(0, len(circuits), limit):
            chunk = circuits[start : start + limit]
            counts = self._run(chunk)
            for (index, _), hex_counts in zip(requests[start : start + limit], counts, strict=True):
                samples.append(self._sample(index, hex_counts))
        return samples

    def _run(self, circuits: list[QuantumCircuit]) -> list[dict[str, int]]:
        options: dict[str, Any] = {"shots": self.shots}
        seed = self._next_seed()
        if seed is not None:
            options["seed_simulator"] = seed
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
