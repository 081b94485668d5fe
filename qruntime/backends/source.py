"""What the catalogue knows about a backend, and the protocol of a source of backends."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from qruntime.program.backend import ProgramBackend

BackendKind = Literal["simulator", "emulator", "plugin"]


@dataclass(frozen=True)
class BackendInfo:
    """A backend as the catalogue lists it.

    ``simulator`` is what IBM's clients see in the configuration: true for the ideal simulators,
    false for device emulators (they behave like the device, queue included).
    """

    name: str
    simulator: bool
    kind: BackendKind
    num_qubits: int
    description: str


class BackendSource(Protocol):
    """A family of backends the catalogue serves (simulators, device emulators, plugins).

    ``names`` must be cheap: listing may not build any backend. Every other method takes a name
    from ``names`` and raises ``BackendNotFoundError`` for any other.
    """

    def names(self) -> list[str]:
        """Return the names of this source's backends."""
        ...

    def info(self, name: str) -> BackendInfo:
        """Return what the catalogue lists about the backend."""
        ...

    def configuration(self, name: str) -> dict[str, Any]:
        """Return the backend's IBM configuration JSON (a fresh copy)."""
        ...

    def properties(self, name: str) -> dict[str, Any] | None:
        """Return the backend's IBM properties JSON, or ``None`` if it has none."""
        ...

    def program_backend(self, name: str) -> ProgramBackend:
        """Return a new ``ProgramBackend`` for the backend; what is slow to build is shared."""
        ...
