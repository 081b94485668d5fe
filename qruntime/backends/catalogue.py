"""The backend catalogue: backend names -> Qiskit backends and their IBM JSON.

Names come from the sources in order: the ideal simulators, the device emulators, then the
plugins. A name already taken by an earlier source is not served again (a plugin cannot replace
a built-in backend by accident).
"""

from __future__ import annotations

import difflib
import functools
import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from qruntime.backends.configuration import queue_status
from qruntime.backends.emulators import EmulatorSource
from qruntime.backends.plugins import PluginSource
from qruntime.backends.simulators import SimulatorSource
from qruntime.backends.source import BackendInfo, BackendSource
from qruntime.errors import BackendNotFoundError
from qruntime.program.backend import ProgramBackend

logger = logging.getLogger(__name__)

_T = TypeVar("_T")


class BackendCatalogue:
    """Every backend this process can serve, by IBM name.

    Nothing is loaded when the catalogue is made: the simulators are built when first asked for,
    the emulators' snapshots are listed on the first call that needs them, and each emulator or
    plugin is built on its first ``get`` (or plugin ``info``) and kept for the process's life.

    Args:
        sources: where backends come from, earliest first; by default simulators, device
            emulators and the ``qruntime.backends`` entry points.
    """

    def __init__(self, sources: Sequence[BackendSource] | None = None) -> None:
        if sources is None:
            sources = (SimulatorSource(), EmulatorSource(), PluginSource())
        self._sources = tuple(sources)
        self._shadowed: set[str] = set()

    def names(self) -> list[str]:
        """Return every backend name: simulators, then emulators, then plugins."""
        owners: dict[str, BackendSource] = {}
        for source in self._sources:
            for name in source.names():
                if name not in owners:
                    owners[name] = source
                elif name not in self._shadowed:
                    self._shadowed.add(name)
                    logger.warning("Backend %r is offered twice; the first one is served.", name)
        return list(owners)

    def info(self, name: str) -> BackendInfo:
        """Return what the catalogue knows about the backend ``name``."""
        return self._ask(name, lambda source: source.info(name))

    def get(self, name: str) -> ProgramBackend:
        """Return a ``ProgramBackend`` for ``name``, as a program's ``main`` receives it.

        The first call builds the backend (an emulator takes up to seconds); later calls share
        it and return in microseconds. Each call returns a new ``ProgramBackend``, so options
        one program sets never leak into the next.
        """
        return self._ask(name, lambda source: source.program_backend(name))

    def configuration(self, name: str) -> dict[str, Any]:
        """Return the backend's IBM configuration JSON (``devices/v/1`` entries)."""
        return self._ask(name, lambda source: source.configuration(name))

    def configurations(self) -> list[dict[str, Any]]:
        """Return the configuration of every backend, leaving out any that fails to load."""
        found = []
        for name in self.names():
            try:
                found.append(self.configuration(name))
            except BackendNotFoundError as error:
                logger.warning("Leaving %s out of the backend list: %s", name, error)
        return found

    def properties(self, name: str) -> dict[str, Any] | None:
        """Return the backend's IBM properties JSON; ``None`` for simulators and plugins."""
        return self._ask(name, lambda source: source.properties(name))

    def status(self, name: str, pending_jobs: int = 0) -> dict[str, Any]:
        """Return the body of IBM's ``devices/{name}/queue/status`` for the backend."""
        version = str(self.configuration(name)["backend_version"])
        return queue_status(version, pending_jobs)

    def _ask(self, name: str, question: Callable[[BackendSource], _T]) -> _T:
        source = self._source(name)
        try:
            return question(source)
        except BackendNotFoundError as error:
            raise self._not_found(name, reason=str(error)) from error

    def _source(self, name: str) -> BackendSource:
        # Sources are asked in order, so a simulator is found without listing the emulators.
        for source in self._sources:
            if name in source.names():
                return source
        raise self._not_found(name)

    def _not_found(self, name: str, reason: str = "") -> BackendNotFoundError:
        names = self.names()
        close = difflib.get_close_matches(name, names, n=5, cutoff=0.6)
        ordered = close + [other for other in names if other not in close]
        cause = f" ({reason})" if reason else ""
        return BackendNotFoundError(
            f"No backend named {name!r}{cause}. Valid names, closest first: {', '.join(ordered)}.",
            field="backend",
        )


@functools.cache
def default_catalogue() -> BackendCatalogue:
    """Return this process's catalogue of the built-in backends and the installed plugins."""
    return BackendCatalogue()
