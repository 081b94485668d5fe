"""Running a program in the calling process, exactly as a job would run it.

Inputs take the same way as a job's: encoded to IBM's wire format and decoded again, then checked
against the program's parameter spec; every interim result and the final result are encoded and
decoded too. What works here therefore works through the service.
"""

from __future__ import annotations

import types
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from qruntime.backends import BackendCatalogue, default_catalogue
from qruntime.execution.invocation import check_backend_requirements, invoke
from qruntime.program import (
    LoadedProgram,
    ProgramMetadata,
    main_of,
    module_from_file,
)
from qruntime.program.loader import metadata_beside
from qruntime.programs import builtin_program, builtin_programs
from qruntime.serialization import decode, decode_inputs, encode

InterimCallback = Callable[[str, Any], None]
"""``callback(job_id, interim_result)``, as IBM's ``runtime.run(..., callback=...)`` calls it."""

DEFAULT_BACKEND = "ibmq_qasm_simulator"


def load_program(program: str | Path | types.ModuleType) -> LoadedProgram:
    """A built-in program id, a path to a program file, or an imported module."""
    if isinstance(program, types.ModuleType):
        module_file = getattr(program, "__file__", None)
        metadata = (
            metadata_beside(Path(module_file), program.__name__)
            if module_file
            else ProgramMetadata(name=program.__name__)
        )
        return LoadedProgram(metadata.name, main_of(program), metadata)
    if isinstance(program, str) and program in builtin_programs():
        return builtin_program(program).loaded
    path = Path(program)
    if path.suffix == ".py" or path.exists():
        metadata = metadata_beside(path, path.stem)
        return LoadedProgram(metadata.name, main_of(module_from_file(path)), metadata)
    return builtin_program(str(program)).loaded  # raises, listing the built-in ids


def prepare_inputs(metadata: ProgramMetadata, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Encode and decode ``inputs`` as the service would, then check them against the spec."""
    decoded = decode_inputs(encode(dict(inputs)))
    metadata.validate_inputs(decoded)
    return decoded


def run_program(
    program: str | Path | types.ModuleType,
    inputs: Mapping[str, Any] | None = None,
    backend: str = DEFAULT_BACKEND,
    callback: InterimCallback | None = None,
    *,
    catalogue: BackendCatalogue | None = None,
) -> Any:
    """Run ``program``'s ``main`` in this process and return its decoded final result.

    ``callback(job_id, interim_result)`` is called for each interim result as it is published.
    Bad inputs raise ``InputError`` (with the field to blame); an exception inside the program
    raises ``ProgramFailedError`` carrying the program's traceback.
    """
    loaded = load_program(program)
    decoded_inputs = prepare_inputs(loaded.metadata, inputs or {})
    program_backend = (catalogue or default_catalogue()).get(backend)
    check_backend_requirements(loaded.metadata, program_backend)
    job_id = f"local-{uuid.uuid4().hex[:20]}"

    def deliver(text: str) -> None:
        if callback is not None:
            callback(job_id, decode(text))

    return decode(invoke(loaded, program_backend, decoded_inputs, deliver))
