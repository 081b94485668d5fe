"""The program contract: what a program's ``main(backend, user_messenger, **kwargs)`` receives."""

from qruntime.program.backend import ProgramBackend
from qruntime.program.loader import LoadedProgram, main_of, module_from_file, module_from_source
from qruntime.program.messenger import UserMessenger
from qruntime.program.metadata import ProgramMetadata
from qruntime.program.validation import InputsValidator

__all__ = [
    "InputsValidator",
    "LoadedProgram",
    "ProgramBackend",
    "ProgramMetadata",
    "UserMessenger",
    "main_of",
    "module_from_file",
    "module_from_source",
]
