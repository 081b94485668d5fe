"""Device emulators: Aer with the noise, coupling map and basis gates of a device's snapshot.

The snapshots are those qiskit-ibm-runtime ships with its fake backends, one per device, named as
IBM named the device (the ``backend_name`` of the snapshot's configuration: ``fake_bogota`` is
``ibmq_bogota``). Listing them reads only the configuration files; an emulator is built the first
time a program asks for it and kept for the life of the process. Its noise model is built a part
at a time, as runs first use each part of the device (see :mod:`qruntime.backends.noise`).
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qiskit.circuit import QuantumCircuit
from qiskit.providers import BackendV2
from qiskit_aer import AerSimulator

from qruntime.backends.configuration import backend_version, device_configuration
from qruntime.backends.noise import DeviceNoise
from qruntime.backends.source import BackendInfo
from qruntime.errors import BackendNotFoundError
from qruntime.program.backend import BackendConfiguration, ProgramBackend

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class DeviceSnapshot:
    """One device's published calibration snapshot, as qiskit-ibm-runtime ships it.

    ``fake_class`` is the fake backend that loads it; ``configuration`` is the emulator's IBM
    configuration JSON, already made from the snapshot's.
    """

    name: str
    fake_class: type
    properties_path: Path | None
    configuration: dict[str, Any] = field(repr=False)


def discover_snapshots() -> list[DeviceSnapshot]:
    """Return the snapshot of every fake device in ``qiskit_ibm_runtime.fake_provider``.

    A device whose configuration cannot be read, or whose IBM name another device already has,
    is skipped with a logged warning.
    """
    import qiskit_ibm_runtime.fake_provider as fake_provider
    from qiskit_ibm_runtime.fake_provider.fake_backend import FakeBackendV2

    snapshots: dict[str, DeviceSnapshot] = {}
    for attribute in sorted(dir(fake_provider)):
        candidate = getattr(fake_provider, attribute)
        if not (
            isinstance(candidate, type)
            and issubclass(candidate, FakeBackendV2)
            and getattr(candidate, "conf_filename", None)
        ):
            continue
        try:
            snapshot = _snapshot(candidate)
        except (OSError, ValueError, KeyError, TypeError) as error:
            logger.warning("Skipping the emulator of %s: %s", candidate.__name__, error)
            continue
        if snapshot.name in snapshots:
            logger.warning(
                "Skipping %s: %s already emulates %s.",
                candidate.__name__,
                snapshots[snapshot.name].fake_class.__name__,
                snapshot.name,
            )
            continue
        snapshots[snapshot.name] = snapshot
    return sorted(snapshots.values(), key=lambda snapshot: snapshot.name)


def _snapshot(fake_class: Any) -> DeviceSnapshot:
    directory = Path(fake_class.dirname)
    raw = json.loads((directory / fake_class.conf_filename).read_text(encoding="utf-8"))
    name = raw["backend_name"]
    if not isinstance(name, str) or not name:
        raise ValueError(f"its configuration has no backend_name ({name!r})")
    if name.startswith("alt_"):
        # Snapshots of a device's alternative calibration; IBM published the device as ibm_<city>.
        name = "ibm_" + name.removeprefix("alt_")
    props = getattr(fake_class, "props_filename", None)
    return DeviceSnapshot(
        name=name,
        fake_class=fake_class,
        properties_path=directory / props if props else None,
        configuration=device_configuration(raw, name=name),
    )


class DeviceEmulator(AerSimulator):  # type: ignore[misc]
    """An ``AerSimulator`` of a device whose noise each run takes from :class:`DeviceNoise`.

    Made with :meth:`of_device`. Each run gets the device's noise on the qubits its circuits use,
    computed when a run first needs it; a ``noise_model`` option, set or passed to ``run``, is
    used as given instead.
    """

    _device_noise: DeviceNoise | None = None

    @classmethod
    def of_device(cls, device: BackendV2) -> DeviceEmulator:
        """Return an emulator with ``device``'s target, coupling map, basis gates and noise."""
        emulator: DeviceEmulator = cls.from_backend(device, noise_model=None)
        emulator._device_noise = DeviceNoise(device)
        return emulator

    def run(self, circuits: Any, parameter_binds: Any = None, **run_options: Any) -> Any:
        """Run like ``AerSimulator.run``, with the device's noise on the qubits used."""
        noise = self._device_noise
        if (
            noise is not None
            and "noise_model" not in run_options
            and self.options.noise_model is None
        ):
            circuits = [circuits] if isinstance(circuits, QuantumCircuit) else list(circuits)
            if all(isinstance(circuit, QuantumCircuit) for circuit in circuits):
                run_options["noise_model"] = noise.on(_used_qubits(circuits))
        return super().run(circuits, parameter_binds=parameter_binds, **run_options)


def _used_qubits(circuits: Iterable[QuantumCircuit]) -> frozenset[int]:
    used: set[int] = set()
    for circuit in circuits:
        index = {qubit: position for position, qubit in enumerate(circuit.qubits)}
        for instruction in circuit.data:
            used.update(index[qubit] for qubit in instruction.qubits)
    return frozenset(used)


class _Emulator:
    """The parts of one emulator that its ``ProgramBackend``s share."""

    def __init__(self, snapshot: DeviceSnapshot) -> None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self.fake = snapshot.fake_class()
            self.aer = DeviceEmulator.of_device(self.fake)
        for warning in caught:
            logger.info("Building the emulator of %s: %s", snapshot.name, warning.message)
        self.configuration = BackendConfiguration(snapshot.configuration)


class EmulatorSource:
    """Device emulators, one per snapshot; listing reads files, building waits for ``get``.

    Args:
        snapshots: the devices to emulate; by default every fake device qiskit-ibm-runtime ships
            (found on first use, not when the source is made).
    """

    def __init__(self, snapshots: Sequence[DeviceSnapshot] | None = None) -> None:
        self._given = snapshots
        self._snapshots: dict[str, DeviceSnapshot] | None = None
        self._built: dict[str, _Emulator] = {}
        self._broken: dict[str, str] = {}
        self._lock = threading.Lock()
        self._build_lock = threading.Lock()

    def names(self) -> list[str]:
        """Return the emulators' names, less those that failed to build in this process."""
        return [name for name in self._all() if name not in self._broken]

    def info(self, name: str) -> BackendInfo:
        """Return what the catalogue lists about the emulator."""
        snapshot = self._snapshot(name)
        qubits = int(snapshot.configuration["n_qubits"])
        return BackendInfo(
            name=name,
            simulator=False,
            kind="emulator",
            num_qubits=qubits,
            description=(
                f"Emulator of the {qubits}-qubit device {name}: Aer with the noise model, "
                "coupling map and basis gates of its published calibration snapshot."
            ),
        )

    def configuration(self, name: str) -> dict[str, Any]:
        """Return the emulator's IBM configuration JSON."""
        return copy.deepcopy(self._snapshot(name).configuration)

    def properties(self, name: str) -> dict[str, Any] | None:
        """Return the device's IBM properties JSON from its snapshot."""
        snapshot = self._snapshot(name)
        if snapshot.properties_path is None:
            return None
        properties: dict[str, Any] = json.loads(
            snapshot.properties_path.read_text(encoding="utf-8")
        )
        properties["backend_name"] = name
        properties["backend_version"] = backend_version(properties.get("backend_version"))
        return properties

    def program_backend(self, name: str) -> ProgramBackend:
        """Return a new ``ProgramBackend`` over the emulator, built on the first call."""
        emulator = self._emulator(name)
        return ProgramBackend(
            emulator.aer, emulator.configuration, properties=emulator.fake.properties
        )

    def _all(self) -> dict[str, DeviceSnapshot]:
        with self._lock:
            if self._snapshots is None:
                found = discover_snapshots() if self._given is None else self._given
                self._snapshots = {snapshot.name: snapshot for snapshot in found}
            return self._snapshots

    def _snapshot(self, name: str) -> DeviceSnapshot:
        snapshot = self._all().get(name)
        if snapshot is None or name in self._broken:
            reason = self._broken.get(name, "no snapshot of that name")
            raise BackendNotFoundError(f"No emulator {name!r}: {reason}.", field="backend")
        return snapshot

    def _emulator(self, name: str) -> _Emulator:
        snapshot = self._snapshot(name)
        with self._build_lock:
            emulator = self._built.get(name)
            if emulator is not None:
                return emulator
            try:
                emulator = self._built[name] = _Emulator(snapshot)
            except Exception as error:
                # A snapshot this Qiskit cannot read must cost one backend, not the catalogue.
                logger.warning("Cannot build the emulator of %s", name, exc_info=True)
                self._broken[name] = f"it cannot be built on this Qiskit ({error})"
                raise BackendNotFoundError(
                    f"The emulator {name!r} cannot be built on this Qiskit: {error}",
                    field="backend",
                ) from error
            return emulator
