"""Loading a program's ``main`` from a module, a source file or source text."""

from __future__ import annotations

import importlib.util
import inspect
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qruntime.errors import InputError
from qruntime.program.metadata import ProgramMetadata

ProgramMain = Callable[..., Any]


@dataclass(frozen=True)
class LoadedProgram:
    """A program ready to run: its ``main`` and its metadata."""

    program_id: str
    main: ProgramMain
    metadata: ProgramMetadata


def main_of(module: types.ModuleType) -> ProgramMain:
    """Return ``module.main``, checking that it takes ``backend`` and ``user_messenger`` first."""
    main: ProgramMain | None = getattr(module, "main", None)
    if main is None or not callable(main):
        raise InputError(
            f"program {module.__name__!r} has no function 'main(backend, user_messenger, **kwargs)'"
        )
    try:
        positional = [
            p
            for p in inspect.signature(main).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):  # builtins and some C callables have no signature
        return main
    if len(positional) < 2:
        raise InputError(
            f"program {module.__name__!r}: 'main' must take backend and user_messenger as its "
            "first two arguments"
        )
    return main


def module_from_source(
    source: str, name: str = "program", filename: str = "program.py"
) -> types.ModuleType:
    """Execute program source text as a fresh module (not registered in ``sys.modules``)."""
    module = types.ModuleType(name)
    module.__file__ = filename
    try:
        code = compile(source, filename, "exec")
    except SyntaxError as exc:
        raise InputError(f"program source does not compile: {exc}") from exc
    exec(code, module.__dict__)
    return module


def module_from_file(path: Path) -> types.ModuleType:
    """Import a program file under a private module name."""
    if not path.is_file():
        raise InputError(f"program file {path} does not exist")
    name = f"qruntime_program_{abs(hash(path.resolve()))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InputError(f"cannot load {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    # Registered while it executes so that dataclasses and pickling inside it resolve the module.
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise InputError(f"program file {path} does not compile: {exc}") from exc
    finally:
        sys.modules.pop(name, None)
    return module


def metadata_beside(path: Path, default_name: str) -> ProgramMetadata:
    """The ``metadata.json`` next to a program file, or minimal metadata naming it."""
    candidate = path.parent / "metadata.json"
    if candidate.is_file():
        return ProgramMetadata.from_file(candidate)
    return ProgramMetadata(name=default_name)
