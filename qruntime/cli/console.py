"""The two consoles of the ``qruntime`` command, and how it stops with an error."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

out = Console(soft_wrap=True)
"""Results: what a script may read."""
err = Console(stderr=True, soft_wrap=True)
"""Errors, notes and progress."""


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` on stderr; return the ``Exit`` to raise (2: the user's mistake)."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(code)
