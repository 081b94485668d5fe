"""A device's noise model, built as jobs first use each part of the device.

``NoiseModel.from_backend`` takes 1-3.5 s for a 127-156 qubit device, and Aer hands the whole
model to its C++ core on every run (about one second per run at that size), whatever the circuit.
Errors of instructions on qubits a job does not use can never act. So :class:`DeviceNoise` gives
each job the model restricted to its qubits, and computes the error of each instruction the first
time a job needs it, with Aer's own ``NoiseModel.from_backend`` applied to the part of the
device's target not yet computed. The result equals the full model restricted to the job's qubits
(checked in the tests); a 3-qubit job on a 127-qubit device needs its noise in about 15 ms.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from qiskit.providers import BackendV2, Options
from qiskit.transpiler import Target
from qiskit_aer.noise import NoiseModel

logger = logging.getLogger(__name__)

Entry = tuple[str, tuple[int, ...]]
"""An instruction of the target on some qubits: ``("ecr", (0, 1))``."""


class DeviceNoise:
    """The noise model of a device, restricted on demand to the qubits a job uses.

    Args:
        device: the device whose target (gate errors and durations, qubit T1/T2, readout
            errors) defines the noise.
        kept: how many restricted models to keep for reuse.
    """

    def __init__(self, device: BackendV2, kept: int = 16) -> None:
        self._device = device
        self._target = device.target
        self._whole: Any = None
        self._computed: set[Entry] = set()
        self._model = NoiseModel.from_backend(_TargetBackend(_part_of(self._target, set())))
        self._restricted: OrderedDict[frozenset[int], Any] = OrderedDict()
        self._kept = kept
        self._lock = threading.Lock()

    def on(self, qubits: frozenset[int]) -> Any:
        """Return the noise model of the instructions acting only on ``qubits``."""
        with self._lock:
            if self._whole is not None:
                return self._whole
            restricted = self._restricted.get(qubits)
            if restricted is not None:
                self._restricted.move_to_end(qubits)
                return restricted
            missing = set(_entries_on(self._target, qubits)) - self._computed
            try:
                if missing:
                    self._add(missing)
            except AttributeError:
                logger.warning("qiskit-aer's NoiseModel has changed: using the whole noise model")
                self._whole = NoiseModel.from_backend(self._device)
                return self._whole
            restricted = restrict(self._model, qubits)
            self._restricted[qubits] = restricted
            if len(self._restricted) > self._kept:
                self._restricted.popitem(last=False)
            return restricted

    def _add(self, entries: set[Entry]) -> None:
        part = NoiseModel.from_backend(_TargetBackend(_part_of(self._target, entries)))
        for name, errors in part._local_quantum_errors.items():
            for on, error in errors.items():
                self._model.add_quantum_error(error, name, on, warnings=False)
        for on, error in part._local_readout_errors.items():
            self._model.add_readout_error(error, on, warnings=False)
        self._computed |= entries
        # A restricted model kept from before may lack errors just computed.
        self._restricted.clear()


def restrict(noise: Any, qubits: frozenset[int]) -> Any:
    """Return ``noise`` without the errors of instructions on qubits outside ``qubits``.

    NoiseModel has no public way to drop errors, so this edits a shallow copy's tables; should a
    later qiskit-aer rename them, the whole model is used (slower, same results).
    """
    try:
        restricted = copy.copy(noise)
        restricted._local_quantum_errors = {
            name: {on: error for on, error in errors.items() if qubits.issuperset(on)}
            for name, errors in noise._local_quantum_errors.items()
        }
        restricted._local_readout_errors = {
            on: error for on, error in noise._local_readout_errors.items() if qubits.issuperset(on)
        }
        restricted._noise_qubits = set(noise._noise_qubits) & qubits
    except AttributeError:
        logger.debug("NoiseModel internals changed; running with the whole noise model")
        return noise
    return restricted


def _entries_on(target: Target, qubits: frozenset[int]) -> Iterable[Entry]:
    for name in target.operation_names:
        for on in target.qargs_for_operation_name(name) or ():
            if qubits.issuperset(on):
                yield name, tuple(on)


def _part_of(target: Target, entries: set[Entry]) -> Target:
    """Return ``target`` with, of its per-qubit instructions, only ``entries``.

    Everything else is kept: the qubits' properties (T1, T2, frequency) and ``dt`` define the
    relaxation noise, and global instructions carry no error.
    """
    part = Target(
        description=target.description,
        num_qubits=target.num_qubits,
        dt=target.dt,
        granularity=target.granularity,
        min_length=target.min_length,
        pulse_alignment=target.pulse_alignment,
        acquire_alignment=target.acquire_alignment,
        qubit_properties=target.qubit_properties,
        concurrent_measurements=target.concurrent_measurements,
    )
    for name in target.operation_names:
        operation = target.operation_from_name(name)
        if isinstance(operation, type):
            part.add_instruction(operation, name=name)
            continue
        qargs = target.qargs_for_operation_name(name)
        if qargs is None:
            part.add_instruction(operation, None, name=name)
            continue
        properties = target[name]
        part.add_instruction(
            operation,
            {on: properties[on] for on in qargs if (name, tuple(on)) in entries},
            name=name,
        )
    return part


class _TargetBackend(BackendV2):  # type: ignore[misc]
    """The least backend ``NoiseModel.from_backend`` accepts: a target and nothing else."""

    def __init__(self, target: Target) -> None:
        super().__init__(name="target")
        self._target = target

    @property
    def target(self) -> Target:
        return self._target

    @property
    def max_circuits(self) -> None:
        return None

    @classmethod
    def _default_options(cls) -> Options:
        return Options()

    def run(self, run_input: Any, **options: Any) -> Any:
        raise NotImplementedError("a target, not a backend: nothing runs here")
