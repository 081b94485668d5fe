"""Built-in programs: one package each, holding ``program.py`` (``main``) and ``metadata.json``.

A program's id is the ``name`` in its metadata (``hello-world``, ``circuit-runner``, ...).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path

from qruntime.errors import ProgramNotFoundError
from qruntime.program import LoadedProgram, ProgramMetadata, main_of

_HERE = Path(__file__).parent


@dataclass(frozen=True)
class BuiltinProgram:
    """A program that ships with qruntime."""

    package: str
    metadata: ProgramMetadata

    @property
    def program_id(self) -> str:
        return self.metadata.name

    @property
    def module_name(self) -> str:
        return f"{__name__}.{self.package}.program"

    @property
    def source(self) -> str:
        """The source of ``program.py``: what ``GET /programs/{id}`` shows as the program's data."""
        return (_HERE / self.package / "program.py").read_text(encoding="utf-8")

    @cached_property
    def loaded(self) -> LoadedProgram:
        """Import the program (once) and return it ready to run."""
        module = importlib.import_module(self.module_name)
        return LoadedProgram(self.program_id, main_of(module), self.metadata)


@cache
def builtin_programs() -> dict[str, BuiltinProgram]:
    """Every built-in program by id, read from the package's metadata files."""
    programs = {}
    for metadata_file in sorted(_HERE.glob("*/metadata.json")):
        metadata = ProgramMetadata.from_file(metadata_file)
        programs[metadata.name] = BuiltinProgram(metadata_file.parent.name, metadata)
    return programs


def builtin_program(program_id: str) -> BuiltinProgram:
    """The built-in program ``program_id``; ``ProgramNotFoundError`` lists the ids there are."""
    programs = builtin_programs()
    try:
        return programs[program_id]
    except KeyError:
        known = ", ".join(sorted(programs))
        raise ProgramNotFoundError(
            f"no built-in program {program_id!r}; built-in programs are: {known}",
            field="program_id",
        ) from None
