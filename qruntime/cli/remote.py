"""The commands that work with a server: run, programs, jobs, job and upload."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from qruntime.cli.connection import (
    CaCert,
    Connection,
    DataDir,
    Token,
    Url,
    VerifyFlag,
    client_errors,
)
from qruntime.cli.console import err, fail, out
from qruntime.cli.follow import follow

if TYPE_CHECKING:
    from qruntime.client import RuntimeJob

_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_UNLIMITED = 100_000


def run_on_server(
    connection: Connection,
    program_id: str,
    backend: str,
    inputs: dict[str, Any],
    as_json: bool,
) -> None:
    """Submit a job; print its id, its interim results as they arrive, then its result."""
    if program_id.endswith(".py"):
        raise fail(
            f"{program_id} is a file: upload it first (`qruntime upload {program_id} "
            "METADATA.json` prints its id), or add --local to run it in this process"
        )
    with connection.connect() as provider, client_errors(connection):
        job = provider.runtime.run(program_id, inputs, options={"backend_name": backend})
        (err if as_json else out).print(f"job {job.job_id}", highlight=False)
        follow(job, interim=True, as_json=as_json)


def list_programs(connection: Connection) -> None:
    """Print the server's programs as a table."""
    with connection.connect() as provider, client_errors(connection):
        programs = provider.runtime.programs(limit=None)
    table = Table("id", "name", "max execution time (s)", "public", "description")
    for program in programs:
        table.add_row(
            program.program_id,
            program.name,
            str(program.max_execution_time),
            "yes" if program.is_public else "no",
            program.description,
        )
    print_table(table)


def jobs(
    limit: Annotated[int, typer.Option(min=1, help="How many jobs, newest first.")] = 10,
    pending: Annotated[
        bool | None,
        typer.Option(
            "--pending/--finished",
            help="Only queued and running jobs, or only finished ones \\[default: both].",
            show_default=False,
        ),
    ] = None,
    program: Annotated[str | None, typer.Option(help="Only the jobs of this program.")] = None,
    url: Url = None,
    token: Token = None,
    verify: VerifyFlag = None,
    cacert: CaCert = None,
    data_dir: DataDir = None,
) -> None:
    """List your jobs on the server, newest first."""
    connection = Connection.from_options(url, token, verify, cacert, data_dir)
    with connection.connect() as provider, client_errors(connection):
        found = provider.runtime.jobs(limit=limit, pending=pending, program_id=program)
        table = Table("id", "program", "backend", "status", "created")
        for each in found:
            table.add_row(
                each.job_id, each.program_id, each.backend, each.status().name, _created(each)
            )
    print_table(table)


def job(
    job_id: Annotated[str, typer.Argument(help="The job's id, as `run` and `jobs` print it.")],
    result: Annotated[
        bool, typer.Option("--result", help="Wait for the job, then print its result.")
    ] = False,
    logs: Annotated[bool, typer.Option("--logs", help="Print what the program printed.")] = False,
    follow_job: Annotated[
        bool,
        typer.Option(
            "--follow", help="Print interim results as they arrive, then the final result."
        ),
    ] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the final result as wire-format JSON.")
    ] = False,
    url: Url = None,
    token: Token = None,
    verify: VerifyFlag = None,
    cacert: CaCert = None,
    data_dir: DataDir = None,
) -> None:
    """Show a job's status; with an option, its result, its logs, or its progress live."""
    if result + logs + follow_job > 1:
        raise fail("give one of --result, --logs and --follow")
    connection = Connection.from_options(url, token, verify, cacert, data_dir)
    with connection.connect() as provider, client_errors(connection):
        found = provider.runtime.job(job_id)
        (err if json_output else out).print(_status_line(found), highlight=False, markup=False)
        if logs:
            text = found.logs().rstrip("\n")
            if text:
                out.print(text, highlight=False, markup=False)
            else:
                err.print(f"job {found.job_id} has no logs", highlight=False)
        elif follow_job or result:
            follow(found, interim=follow_job, as_json=json_output)


def upload(
    source: Annotated[
        Path, typer.Argument(help="The program: a .py file with main().", dir_okay=False)
    ],
    metadata: Annotated[
        Path,
        typer.Argument(help="Its metadata: JSON with name, max_execution_time, spec, ...."),
    ],
    public: Annotated[
        bool, typer.Option("--public", help="Let every user run it, not only you.")
    ] = False,
    url: Url = None,
    token: Token = None,
    verify: VerifyFlag = None,
    cacert: CaCert = None,
    data_dir: DataDir = None,
) -> None:
    """Upload a program to the server; print its id as the last line."""
    for path in (source, metadata):
        if not path.is_file():
            raise fail(f"no such file: {path}")
    connection = Connection.from_options(url, token, verify, cacert, data_dir)
    with connection.connect() as provider, client_errors(connection):
        program_id = provider.runtime.upload_program(source, metadata)
        if public:
            provider.runtime.set_program_visibility(program_id, True)
    print(program_id)


def print_table(table: Table) -> None:
    """Print a table; into a pipe at its natural width, so that no cell is wrapped or cut."""
    if out.is_terminal:
        out.print(table)
        return
    natural = Measurement.get(out, out.options.update(max_width=_UNLIMITED), table).maximum
    Console(file=out.file, width=max(out.width, natural)).print(table)


def _status_line(found: RuntimeJob) -> str:
    from qiskit.providers import JobStatus

    status = found.status()
    fields = [f"job {found.job_id}: {status.name}"]
    if status is JobStatus.ERROR:
        fields.append(f"reason: {_reason(found.error_message() or '')}")
    fields += [
        f"backend: {found.backend}",
        f"program: {found.program_id}",
        f"created: {_created(found)}",
    ]
    return "; ".join(fields)


def _reason(error_message: str) -> str:
    """The line of a job's error message that says what went wrong (after its 'Job ...' line)."""
    lines = [line.strip() for line in error_message.splitlines() if line.strip()]
    return lines[1] if len(lines) > 1 else (lines[0] if lines else "unknown")


def _created(found: RuntimeJob) -> str:
    created = found.creation_date
    return created.strftime(_TIME_FORMAT) if created else ""
