"""The ``qruntime`` command."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from qruntime.cli import accounts  # noqa: F401 -- registers the admin commands
from qruntime.cli.connection import CaCert, Connection, DataDir, Token, Url, VerifyFlag
from qruntime.cli.console import err, fail, out
from qruntime.cli.remote import job, jobs, list_programs, run_on_server, upload
from qruntime.cli.service import admin, serve
from qruntime.errors import InputError, ProgramFailedError

app = typer.Typer(
    help="qruntime: a self-hostable Qiskit Runtime.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command()(serve)
app.add_typer(admin, name="admin")
app.command()(jobs)
app.command()(job)
app.command()(upload)


@app.command()
def run(
    program_id: Annotated[
        str, typer.Argument(help="A program id (e.g. circuit-runner) or a .py file.")
    ],
    backend: Annotated[
        str, typer.Option(help="Backend name, e.g. ibmq_qasm_simulator, ibmq_bogota.")
    ] = ("ibmq_qasm_simulator"),
    inputs: Annotated[
        Path | None, typer.Option(help="JSON file of program inputs, in IBM's wire format.")
    ] = None,
    circuit: Annotated[
        list[Path] | None,
        typer.Option(help="OpenQASM 2 or 3 file; sets the 'circuits' input. Repeat for several."),
    ] = None,
    input_: Annotated[
        list[str] | None,
        typer.Option(
            "--input", "-i", help="One input as NAME=VALUE (VALUE read as JSON if it can)."
        ),
    ] = None,
    local: Annotated[bool, typer.Option(help="Run in this process, without a server.")] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the final result as wire-format JSON.")
    ] = False,
    url: Url = None,
    token: Token = None,
    verify: VerifyFlag = None,
    cacert: CaCert = None,
    data_dir: DataDir = None,
) -> None:
    """Run a program and print its interim results as they arrive, then its final result.

    On the server by default (the job's id is printed first); with --local, in this process.
    """
    from qruntime.cli.inputs import read_inputs
    from qruntime.cli.output import print_interim_result, print_result
    from qruntime.local import run_program

    try:
        program_inputs = read_inputs(inputs, circuit or [], input_ or [])
    except InputError as exc:
        raise fail(str(exc)) from None
    if not local:
        connection = Connection.from_options(url, token, verify, cacert, data_dir)
        run_on_server(connection, program_id, backend, program_inputs, json_output)
        return
    try:
        result = run_program(
            program_id,
            program_inputs,
            backend=backend,
            callback=lambda job_id, message: print_interim_result(out, message),
        )
    except InputError as exc:
        raise fail(str(exc)) from None
    except ProgramFailedError as exc:
        err.print(exc.traceback or "", highlight=False, markup=False)
        raise fail(str(exc), code=1) from None
    print_result(out, result, as_json=json_output)


@app.command()
def backends() -> None:
    """List the backends: simulators and device emulators."""
    from qruntime.backends import default_catalogue

    catalogue = default_catalogue()
    table = Table("name", "kind", "qubits")
    for name in catalogue.names():
        info = catalogue.info(name)
        table.add_row(name, info.kind, str(info.num_qubits))
    out.print(table)


@app.command()
def programs(
    local: Annotated[
        bool, typer.Option(help="List the built-in programs, without asking a server.")
    ] = False,
    url: Url = None,
    token: Token = None,
    verify: VerifyFlag = None,
    cacert: CaCert = None,
    data_dir: DataDir = None,
) -> None:
    """List the server's programs (the built-in ones with --local, or if no server runs here)."""
    from qruntime.programs import builtin_programs

    if not local:
        connection = Connection.from_options(url, token, verify, cacert, data_dir)
        if connection.url_given or connection.reachable():
            list_programs(connection)
            return
        err.print(
            f"no server at {connection.url}; these are the built-in programs (--local)",
            highlight=False,
        )
    table = Table("id", "max execution time (s)", "description")
    for program_id, program in builtin_programs().items():
        metadata = program.metadata
        table.add_row(program_id, str(metadata.max_execution_time), metadata.description)
    out.print(table)


def main() -> Any:  # pragma: no cover - console entry for `python -m qruntime`
    return app(prog_name="qruntime")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
