"""What an upload must be: base64 of Python source with a top-level ``def main(``, at most
:data:`MAX_SOURCE_BYTES`, and metadata that reads as a program's. The source is parsed and
compiled, never executed, in the server.
"""

from __future__ import annotations

import ast
import base64
import binascii
import math
from typing import Any

from qruntime.errors import InputError
from qruntime.program import ProgramMetadata
from qruntime.program.metadata import DEFAULT_MAX_EXECUTION_TIME
from qruntime.server.errors import PayloadTooLarge

SOURCE_FILENAME = "program.py"
MAX_SOURCE_BYTES = 5 * 1024 * 1024
"""The largest program source (UTF-8) an upload or update may carry: every job of the program
sends it to a worker, which compiles it. Data a program needs belongs in its inputs."""


def source_too_large(size: int | str) -> PayloadTooLarge:
    """413, not 400: the request is well formed, but what it carries is more than the server
    accepts, which is what 413 means (and IBM's clients retry neither)."""
    return PayloadTooLarge(
        f"The program source is {size} bytes; a program's source may be at most "
        f"{MAX_SOURCE_BYTES} bytes (5 MiB). Keep large data out of the source: pass it to the "
        "program as inputs instead."
    )


def decode_source(data: Any, field: str = "data") -> str:
    """The program source in ``data``: base64 of UTF-8 text, as IBM's clients send it."""
    if isinstance(data, bytes):
        data = data.decode("ascii", errors="replace")
    if not isinstance(data, str) or not data.strip():
        raise InputError(
            f"'{field}' must be the program's source, base64-encoded; got nothing", field=field
        )
    encoded = "".join(data.split())
    # Base64 takes 4 characters per 3 bytes: anything longer than that decodes past the limit.
    if len(encoded) > 4 * math.ceil(MAX_SOURCE_BYTES / 3):
        raise source_too_large(f"more than {MAX_SOURCE_BYTES}")
    try:
        raw = base64.b64decode(encoded, validate=True)
        source = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        raise InputError(
            f"'{field}' is not base64 of UTF-8 text; send base64.b64encode(source.encode())",
            field=field,
        ) from None
    if len(raw) > MAX_SOURCE_BYTES:
        raise source_too_large(len(raw))
    check_source(source, field)
    return source


def check_source(source: str, field: str = "data") -> None:
    """Refuse source that does not compile or has no top-level ``main(backend, user_messenger,
    ...)``; the code is compiled only, never run."""
    try:
        tree = ast.parse(source, SOURCE_FILENAME)
        compile(tree, SOURCE_FILENAME, "exec")
    except SyntaxError as exc:
        where = f"line {exc.lineno}: " if exc.lineno else ""
        raise InputError(
            f"the program source does not compile ({where}{exc.msg})", field=field
        ) from None
    except ValueError as exc:  # e.g. null bytes in the source
        raise InputError(f"the program source does not compile ({exc})", field=field) from None
    mains = [
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "main"
    ]
    if not mains:
        raise InputError(
            "the program has no top-level 'def main(backend, user_messenger, **kwargs)'",
            field=field,
        )
    arguments = mains[-1].args
    if isinstance(mains[-1], ast.AsyncFunctionDef):
        raise InputError("'main' must be a plain function, not 'async def'", field=field)
    if len(arguments.posonlyargs) + len(arguments.args) < 2 and arguments.vararg is None:
        raise InputError(
            "'main' must take backend and user_messenger as its first two arguments",
            field=field,
        )


def cost_of(value: Any, field: str = "cost") -> int:
    """A max execution time in seconds: a positive integer (IBM's 2021 clients sent text)."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InputError(
            f"'{field}' (max execution time) must be a positive number of seconds, not {value!r}",
            field=field,
        )
    return value


def upload_metadata(body: dict[str, Any]) -> ProgramMetadata:
    """The metadata of ``POST /programs``: name, description, cost, is_public and spec."""
    cost = body.get("cost")
    metadata: dict[str, Any] = {
        "name": body.get("name"),
        "description": body.get("description") or "",
        "max_execution_time": DEFAULT_MAX_EXECUTION_TIME if cost is None else cost_of(cost),
        "is_public": bool(body.get("is_public", False)),
        "spec": body.get("spec") or {},
    }
    if not isinstance(metadata["description"], str):
        raise InputError("'description' must be text", field="description")
    return ProgramMetadata.from_dict(metadata)
