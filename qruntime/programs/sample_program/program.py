"""sample-program: the deprecated name of hello-world (its default is 5 iterations)."""

from __future__ import annotations

from typing import Any

from qruntime.program import ProgramBackend, UserMessenger
from qruntime.programs.hello_world.program import run_iterations


def main(backend: ProgramBackend, user_messenger: UserMessenger, **kwargs: Any) -> str:
    """Run ``iterations`` (default 5) random circuits, publishing each one's counts."""
    iterations = kwargs.pop("iterations", 5)
    return run_iterations(backend, user_messenger, iterations)
