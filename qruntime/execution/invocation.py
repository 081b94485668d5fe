"""Calling a program's ``main``: the one code path shared by in-process runs and workers.

``qruntime.local.run_program`` and the worker both come here once the program is loaded, its
inputs decoded and checked, and its backend built; so what works locally works in a job.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from typing import Any

from qruntime.errors import InputError, ProgramFailedError, QRuntimeError
from qruntime.program import LoadedProgram, ProgramBackend, ProgramMetadata, UserMessenger
from qruntime.program.messenger import InterimSink
from qruntime.serialization import encode


def check_backend_requirements(metadata: ProgramMetadata, backend: ProgramBackend) -> None:
    """Refuse a backend smaller than the program's ``backend_requirements.min_num_qubits``."""
    needed = metadata.backend_requirements.get("min_num_qubits")
    if isinstance(needed, int) and backend.num_qubits < needed:
        raise InputError(
            f"program {metadata.name!r} needs a backend with at least {needed} qubits; "
            f"{backend.name} has {backend.num_qubits}",
            field="backend",
        )


def invoke(
    program: LoadedProgram,
    backend: ProgramBackend,
    inputs: Mapping[str, Any],
    sink: InterimSink,
) -> str:
    """Call ``main(backend, user_messenger, **inputs)`` and return its result, encoded.

    Each interim result goes to ``sink`` already encoded. A result published with
    ``final=True`` stands in for ``None`` returned (programs written before September 2021).

    Raises:
        ProgramFailedError: ``main`` raised (the error carries the program's traceback), or its
            result cannot be encoded.
        QRuntimeError: raised inside ``main`` by qruntime itself (an ``InputError`` from
            ``backend.run``, say), passed on unchanged.
    """
    messenger = UserMessenger(sink=sink)
    try:
        result = program.main(backend, messenger, **inputs)
    except QRuntimeError:
        raise
    except Exception as exc:
        raise ProgramFailedError(
            f"program {program.program_id!r} failed: {type(exc).__name__}: {exc}",
            traceback=program_traceback(exc),
        ) from exc
    if result is None and messenger.final_result is not None:
        return messenger.final_result
    try:
        return encode(result)
    except (TypeError, ValueError) as exc:
        raise ProgramFailedError(
            f"program {program.program_id!r} returned a result that cannot be encoded: {exc}"
        ) from exc


def program_traceback(exc: BaseException) -> str:
    """The traceback from the program's ``main`` down; the runtime's own frame is left out."""
    tb = exc.__traceback__
    # The first frame is invoke's call of main: users want their program's frames only.
    return "".join(traceback.format_exception(type(exc), exc, tb.tb_next if tb else None))
