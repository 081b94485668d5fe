"""Measurement error mitigation of circuit-runner results with mthree (M3).

What IBM's program returned, and what its clients read (``RunnerResult.get_quasiprobabilities``):
each experiment's ``data.quasiprobabilities`` (hex keys, like ``data.counts``) and, in its header,
``final_measurement_mapping`` (physical qubit, as a string -> classical bit) and
``measurement_mitigation_time`` (seconds). The quasi-probability bitstrings hold the finally
measured classical bits in ascending order, so a client zero-fills them to the mapping's length.

Calibration circuits run on the job's own backend, through its ``run``, with the job's
``seed_simulator``, so a seeded job is reproducible end to end.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, MutableMapping, Sequence
from time import perf_counter
from types import SimpleNamespace
from typing import Any

from qiskit import QuantumCircuit

from qruntime.errors import InputError, QRuntimeError

CALIBRATION_SHOTS = 10_000
"""Shots per calibration circuit (fewer where the backend allows fewer): mthree's default."""

MeasurementMapping = dict[int, int]
"""Classical bit -> physical qubit, ordered by classical bit, as mthree gives it."""


def final_measurement_mappings(transpiled: Sequence[QuantumCircuit]) -> list[MeasurementMapping]:
    """The final measurement mapping of each transpiled circuit; refuse circuits without one."""
    from mthree.utils import final_measurement_mapping

    with warnings.catch_warnings():
        # mthree 3.0 reads instructions as tuples, which Qiskit 1.2 deprecated; the result is right.
        warnings.filterwarnings(
            "ignore", "Treating CircuitInstruction as an iterable", DeprecationWarning
        )
        found = final_measurement_mapping(list(transpiled))
    mappings: list[MeasurementMapping] = [
        {int(clbit): int(qubit) for clbit, qubit in mapping.items()} for mapping in found
    ]
    for circuit, mapping in zip(transpiled, mappings, strict=True):
        if not mapping:
            raise InputError(
                f"measurement_error_mitigation needs measurements, and circuit {circuit.name!r} "
                "measures no qubit at its end; add measurements or turn mitigation off",
                field="measurement_error_mitigation",
            )
    return mappings


def mitigate(
    backend: Any,
    num_backend_qubits: int | None,
    result: Mapping[str, Any],
    mappings: Sequence[MeasurementMapping],
    seed_simulator: int | None,
) -> None:
    """Calibrate the measured qubits on ``backend`` and add quasi-probabilities to ``result``.

    ``result`` is a ``Result.to_dict()``; its experiments are updated in place.
    """
    from mthree.exceptions import M3Error

    qubits = sorted({qubit for mapping in mappings for qubit in mapping.values()})
    mitigator = calibrated_mitigator(backend, num_backend_qubits, qubits, seed_simulator)
    try:
        for experiment, mapping in zip(result["results"], mappings, strict=True):
            _mitigate_experiment(mitigator, experiment, mapping)
    except M3Error as error:
        raise QRuntimeError(f"measurement error mitigation failed: {error}") from error


def calibrated_mitigator(
    backend: Any,
    num_backend_qubits: int | None,
    qubits: Sequence[int],
    seed_simulator: int | None,
) -> Any:
    """An M3 mitigator (``mthree.M3Mitigation``) calibrated on ``qubits`` of ``backend``.

    Programs that run many circuits on the same qubits (vqe, qaoa) calibrate once and call its
    ``apply_correction`` on every result.
    """
    import mthree
    from mthree.exceptions import M3Error

    width = num_backend_qubits or max(qubits) + 1
    try:
        mitigator = mthree.M3Mitigation(_CalibrationBackend(backend, width, seed_simulator))
        mitigator.cals_from_system(
            qubits=list(qubits),
            shots=min(CALIBRATION_SHOTS, getattr(backend, "max_shots", None) or CALIBRATION_SHOTS),
            method="independent",
            async_cal=False,
        )
    except M3Error as error:
        raise QRuntimeError(f"measurement error mitigation failed: {error}") from error
    return mitigator


def _mitigate_experiment(
    mitigator: Any, experiment: MutableMapping[str, Any], mapping: MeasurementMapping
) -> None:
    clbits = list(mapping)
    counts = _measured_bitstrings(experiment["data"].get("counts", {}), clbits)
    if not counts:
        return
    started = perf_counter()
    quasi = mitigator.apply_correction(counts, [mapping[clbit] for clbit in clbits])
    elapsed = perf_counter() - started
    experiment["data"]["quasiprobabilities"] = {
        hex(int(bits, 2)): float(value) for bits, value in quasi.items()
    }
    header = experiment.setdefault("header", {})
    header["final_measurement_mapping"] = {str(qubit): clbit for clbit, qubit in mapping.items()}
    header["measurement_mitigation_time"] = elapsed


def _measured_bitstrings(hex_counts: Mapping[str, int], clbits: Sequence[int]) -> dict[str, int]:
    """Counts over the measured classical bits only, as bitstrings (lowest clbit rightmost)."""
    width = len(clbits)
    contiguous = list(clbits) == list(range(width))
    mask = (1 << width) - 1
    counts: dict[str, int] = {}
    for key, count in hex_counts.items():
        value = int(key, 16)
        if contiguous:
            measured = value & mask
        else:
            measured = sum(((value >> clbit) & 1) << index for index, clbit in enumerate(clbits))
        bits = format(measured, f"0{width}b")
        counts[bits] = counts.get(bits, 0) + count
    return counts


class _CalibrationBackend:
    """What mthree reads from a backend, in front of the job's own backend.

    mthree reads a BackendV1-style ``configuration()`` that a BackendV2 need not have, and
    submits its calibration jobs without a seed; this gives it the job's limits, passes the
    job's ``seed_simulator`` on, and drops mthree's IBM-only ``job_tags``.
    """

    version = 2

    def __init__(self, backend: Any, num_qubits: int, seed_simulator: int | None) -> None:
        self._backend = backend
        self._seed_simulator = seed_simulator
        self.name = str(backend.name)
        self._configuration = SimpleNamespace(
            num_qubits=num_qubits,
            max_shots=getattr(backend, "max_shots", None) or CALIBRATION_SHOTS,
            # Read by mthree only to pick defaults, all of which are given explicitly here.
            simulator=True,
            # mthree splits its two circuits per calibrated qubit into jobs of at most this many.
            max_experiments=getattr(backend, "max_circuits", None) or 2 * num_qubits,
        )

    def configuration(self) -> SimpleNamespace:
        """The fields of a backend configuration that mthree reads."""
        return self._configuration

    def run(self, circuits: list[QuantumCircuit], **options: Any) -> Any:
        """Run calibration circuits on the job's backend."""
        options.pop("job_tags", None)
        if options.get("rep_delay") is None:
            options.pop("rep_delay", None)
        if self._seed_simulator is not None:
            options["seed_simulator"] = self._seed_simulator
        return self._backend.run(circuits, **options)
