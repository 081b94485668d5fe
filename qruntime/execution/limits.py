"""A job's max execution time: the program's own, capped by the system for its plan and backend.

The caps are those of IBM's service (tutorial 02_uploading_program): on a simulator 3 h for a
premium instance and 1 h for an open one; on a device 8 h premium, and for the open plan 4 h with
a public program and 2 h with a private one.
"""

from __future__ import annotations

from typing import Literal

Plan = Literal["open", "premium"]

HOUR = 3600

_SIMULATOR_CAPS: dict[str, int] = {"premium": 3 * HOUR, "open": 1 * HOUR}
_DEVICE_CAPS: dict[tuple[str, bool], int] = {
    ("premium", True): 8 * HOUR,
    ("premium", False): 8 * HOUR,
    ("open", True): 4 * HOUR,
    ("open", False): 2 * HOUR,
}


def system_cap(plan: Plan, simulator: bool, public_program: bool) -> int:
    """The longest any job may run for this plan, backend kind and program visibility."""
    if simulator:
        return _SIMULATOR_CAPS[plan]
    return _DEVICE_CAPS[(plan, public_program)]


def max_execution_time(
    program_limit: int,
    plan: Plan,
    simulator: bool,
    public_program: bool,
    requested: int | None = None,
) -> int:
    """Seconds the job may run: the least of the program's limit, the system cap and, when the
    client asked for one (qiskit-ibm-runtime's per-job ``max_execution_time``), that."""
    limit = min(program_limit, system_cap(plan, simulator, public_program))
    if requested is not None and requested > 0:
        limit = min(limit, requested)
    return limit
