"""Backends other distributions add through the ``qruntime.backends`` entry-point group.

An operator adds hardware or another simulator by installing a distribution that declares, e.g.::

    [project.entry-points."qruntime.backends"]
    my_device = "my_package.backends:MyDevice"

The entry point's name is the backend's name; its value loads to a zero-argument callable (a
class will do) that returns a Qiskit ``BackendV2``. Nothing is imported until the backend is first
needed; a plugin that fails to load or to build is logged and left out, and the rest of the
catalogue carries on.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from qiskit.providers import BackendV2

from qruntime.backends.configuration import target_configuration
from qruntime.backends.source import BackendInfo
from qruntime.errors import BackendNotFoundError
from qruntime.program.backend import BackendConfiguration, ProgramBackend

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "qruntime.backends"

BackendFactory = Callable[[], BackendV2]


@dataclass(frozen=True)
class _Plugin:
    backend: BackendV2
    info: BackendInfo
    configuration: dict[str, Any]
    view: BackendConfiguration


class PluginSource:
    """Backends from an entry-point group, or from the factories given (for tests and embedding).

    Args:
        factories: backend name -> zero-argument callable returning a ``BackendV2``; when given,
            entry points are not read.
        group: the entry-point group to read.
    """

    def __init__(
        self,
        factories: Mapping[str, BackendFactory] | None = None,
        *,
        group: str = ENTRY_POINT_GROUP,
    ) -> None:
        self._group = group
        self._loaders: dict[str, Callable[[], BackendFactory]] | None = None
        if factories is not None:
            self._loaders = {name: _returning(factory) for name, factory in factories.items()}
        self._origins: dict[str, str] = {}
        self._built: dict[str, _Plugin] = {}
        self._broken: dict[str, str] = {}
        self._lock = threading.Lock()
        self._build_lock = threading.Lock()

    def names(self) -> list[str]:
        """Return the plugin backends' names, less those that failed to load in this process."""
        return [name for name in self._all() if name not in self._broken]

    def info(self, name: str) -> BackendInfo:
        """Return what the catalogue lists about the backend (building it on first use)."""
        return self._plugin(name).info

    def configuration(self, name: str) -> dict[str, Any]:
        """Return an IBM configuration JSON derived from the backend's target."""
        return copy.deepcopy(self._plugin(name).configuration)

    def properties(self, name: str) -> None:
        """Return ``None``: plugin backends publish no IBM properties JSON."""
        self._plugin(name)

    def program_backend(self, name: str) -> ProgramBackend:
        """Return a new ``ProgramBackend`` over the plugin's backend (built once per process)."""
        plugin = self._plugin(name)
        return ProgramBackend(plugin.backend, plugin.view)

    def _all(self) -> dict[str, Callable[[], BackendFactory]]:
        with self._lock:
            if self._loaders is None:
                self._loaders = {}
                for entry_point in entry_points(group=self._group):
                    if entry_point.name in self._loaders:
                        logger.warning(
                            "Backend plugin %r is declared twice; using %s, not %s.",
                            entry_point.name,
                            self._origins[entry_point.name],
                            entry_point.value,
                        )
                        continue
                    self._loaders[entry_point.name] = entry_point.load
                    self._origins[entry_point.name] = entry_point.value
            return self._loaders

    def _plugin(self, name: str) -> _Plugin:
        loader = self._all().get(name)
        if loader is None or name in self._broken:
            reason = self._broken.get(name, "no plugin of that name")
            raise BackendNotFoundError(f"No plugin backend {name!r}: {reason}.", field="backend")
        with self._build_lock:
            plugin = self._built.get(name)
            if plugin is not None:
                return plugin
            try:
                plugin = self._built[name] = self._build(name, loader)
            except Exception as error:
                # Third-party code: whatever it raises must cost its backend only.
                logger.warning(
                    "Backend plugin %r failed to load; leaving it out", name, exc_info=True
                )
                self._broken[name] = f"it failed to load ({type(error).__name__}: {error})"
                raise BackendNotFoundError(
                    f"The plugin backend {name!r} failed to load: {error}", field="backend"
                ) from error
            return plugin

    def _build(self, name: str, loader: Callable[[], BackendFactory]) -> _Plugin:
        backend = loader()()
        if not isinstance(backend, BackendV2):
            raise TypeError(f"it returned {type(backend).__name__}, not a qiskit BackendV2")
        simulator = _is_simulator(backend)
        origin = self._origins.get(name, "an in-process factory")
        description = backend.description or f"Backend plugin {origin}."
        configuration = target_configuration(
            backend, name=name, simulator=simulator, description=description
        )
        info = BackendInfo(
            name=name,
            simulator=simulator,
            kind="plugin",
            num_qubits=int(configuration["n_qubits"]),
            description=description,
        )
        return _Plugin(backend, info, configuration, BackendConfiguration(configuration))


def _returning(factory: BackendFactory) -> Callable[[], BackendFactory]:
    return lambda: factory


def _is_simulator(backend: BackendV2) -> bool:
    """Whether the backend says it simulates: ``BackendV2`` has no such field, Aer's config has."""
    configuration = getattr(backend, "configuration", None)
    if not callable(configuration):
        return False
    try:
        return bool(getattr(configuration(), "simulator", False))
    except Exception:
        # Third-party code: a configuration() that fails tells nothing, and must not cost more.
        return False
