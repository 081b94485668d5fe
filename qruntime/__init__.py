"""qruntime: a self-hostable Qiskit Runtime."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from qruntime.client import RuntimeProvider

__all__ = ["RuntimeProvider", "__version__"]


def __getattr__(name: str) -> Any:
    # The client (httpx, websockets, Qiskit) loads on first use, so `import qruntime` stays cheap.
    if name == "RuntimeProvider":
        from qruntime.client import RuntimeProvider

        return RuntimeProvider
    raise AttributeError(f"module 'qruntime' has no attribute {name!r}")
