"""Transpiling a job's circuits, with preset pass managers cached across jobs.

Building a preset pass manager for a backend costs tens to hundreds of milliseconds, while running
one on a small circuit costs about one; a warm worker that runs many circuit-runner jobs on the same
backend with the same options should pay for the build once. The cache is process-wide, bounded,
and keyed on what the pass manager depends on: the backend's target (by content, because a backend
may build a fresh ``Target`` on every access) and the job's transpiler options.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from qiskit import QuantumCircuit
from qiskit.exceptions import QiskitError
from qiskit.transpiler import generate_preset_pass_manager

from qruntime.errors import InputError

from .options import TranspileOptions


class PassManagerCache:
    """A thread-safe least-recently-used map from a key to a pass manager."""

    def __init__(self, maxsize: int = 32) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], Any]) -> Any:
        """The pass manager stored under ``key``, built with ``build()`` on a miss."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        # Built outside the lock: two jobs that miss together both build, neither waits.
        pass_manager = build()
        with self._lock:
            self._entries[key] = pass_manager
            self._entries.move_to_end(key)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)
        return pass_manager

    def clear(self) -> None:
        """Forget every pass manager."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


pass_managers = PassManagerCache()
"""The cache every circuit-runner job in this process shares."""


def transpile(
    circuits: Sequence[QuantumCircuit], backend: Any, target: Any, options: TranspileOptions
) -> list[QuantumCircuit]:
    """Transpile ``circuits`` for ``backend`` (whose target is ``target``) in one pass-manager run.

    The target is passed in because some backends build a new one on every access.
    """
    backend_name = str(backend.name)

    def build() -> Any:
        try:
            return generate_preset_pass_manager(
                optimization_level=options.optimization_level,
                backend=backend,
                **options.pass_manager,
            )
        except (QiskitError, TypeError, ValueError, KeyError) as error:
            raise InputError(
                f"the transpiler options cannot be used for {backend_name}: {error}"
            ) from error

    if options.cache_key is None:
        pass_manager = build()
    else:
        key = (backend_name, target_fingerprint(target), options.cache_key)
        pass_manager = pass_managers.get(key, build)
    try:
        transpiled: list[QuantumCircuit] = pass_manager.run(list(circuits), **options.run)
    except QiskitError as error:
        raise InputError(
            f"the circuits cannot be transpiled for {backend_name}: {error}", field="circuits"
        ) from error
    return transpiled


def target_fingerprint(target: Any) -> int:
    """A hash of what a pass manager reads from ``target``: its instructions, qubits and errors."""
    entries: list[Hashable] = [target.num_qubits, target.dt]
    for name in sorted(target.operation_names):
        entries.append(name)
        for qargs, properties in target[name].items():
            if properties is None:
                entries.append(qargs)
            else:
                entries.append((qargs, _number(properties.duration), _number(properties.error)))
    return hash(tuple(entries))


def _number(value: float | None) -> float | None:
    # NaN hashes by identity since Python 3.10; equal targets must hash equally.
    return None if value is None or value != value else value
