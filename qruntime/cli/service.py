"""``qruntime serve`` and ``qruntime admin``: running a service and managing its accounts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from qruntime.settings import (
    DEFAULT_ACCESS_TOKEN_TTL,
    DEFAULT_MAX_INTERIM_RESULTS,
    DEFAULT_PORT,
    DEFAULT_RATE_BURST,
    DEFAULT_RATE_LIMIT,
    DEFAULT_SESSION_IDLE_SECONDS,
    DEFAULT_WORKER_MEMORY,
    DEFAULT_WORKER_PROCESSES,
    Settings,
)

if TYPE_CHECKING:
    from qruntime.service import Service

out = Console(soft_wrap=True)
admin = typer.Typer(
    help="Manage users and instances, and read the audit log (works on the store directly)."
)

DataDir = Annotated[
    Path | None,
    typer.Option(help="Data directory \\[default: $QRUNTIME_DATA_DIR or ~/.qruntime]."),
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        help="SQLAlchemy URL of a PostgreSQL database \\[default: SQLite in the data dir]."
    ),
]


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).")] = DEFAULT_PORT,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    workers: Annotated[int, typer.Option(help="Warm worker processes (jobs at once).")] = 2,
    certfile: Annotated[Path | None, typer.Option(help="TLS certificate (PEM).")] = None,
    keyfile: Annotated[Path | None, typer.Option(help="TLS private key (PEM).")] = None,
    no_tls: Annotated[
        bool, typer.Option("--no-tls", help="Serve plain HTTP (IBM's clients cannot stream).")
    ] = False,
    access_token_ttl: Annotated[
        int,
        typer.Option(
            min=1, help="Seconds an access token from loginWithToken lives (IBM's: two weeks)."
        ),
    ] = DEFAULT_ACCESS_TOKEN_TTL,
    allow_unsandboxed: Annotated[
        bool,
        typer.Option(
            "--allow-unsandboxed",
            help="Run uploaded programs even if bubblewrap cannot sandbox the workers "
            "(they then run with this user's rights: only for a machine you alone use).",
        ),
    ] = False,
    worker_memory: Annotated[
        float,
        typer.Option(min=0, help="Each worker's address-space limit in GiB (0: none)."),
    ] = DEFAULT_WORKER_MEMORY / 1024**3,
    worker_processes: Annotated[
        int, typer.Option(min=16, help="Processes and threads a sandboxed worker may have.")
    ] = DEFAULT_WORKER_PROCESSES,
    job_cpu_time: Annotated[
        float | None,
        typer.Option(
            min=1,
            help="CPU seconds a job may use, all threads together \\[default: its max "
            "execution time on every core].",
        ),
    ] = None,
    session_idle: Annotated[
        float,
        typer.Option(
            min=0.001,
            help="Seconds a session keeps its device with none of its jobs queued or running.",
        ),
    ] = DEFAULT_SESSION_IDLE_SECONDS,
    rate_limit: Annotated[
        str,
        typer.Option(
            metavar="JOBS_PER_SECOND",
            help="Job submissions and program uploads a second each user may keep up, or "
            "'none' for no limit; past it (and the burst) the server answers 429 with "
            "Retry-After. With the default burst, a script submitting 2000 jobs in a loop at "
            "over 100 a second is not slowed, while no user can keep up more than this rate.",
        ),
    ] = f"{DEFAULT_RATE_LIMIT:g}",
    rate_burst: Annotated[
        int,
        typer.Option(
            min=1,
            help="Submissions and uploads a user may make at once before --rate-limit "
            "applies (a user's allowance refills at that rate).",
        ),
    ] = DEFAULT_RATE_BURST,
    max_interim_results: Annotated[
        str,
        typer.Option(
            metavar="N",
            help="Interim results one job may publish, or 'none'; later ones are dropped and "
            "the job's log says so.",
        ),
    ] = str(DEFAULT_MAX_INTERIM_RESULTS),
) -> None:
    """Run the runtime service: IBM's /api and /runtime APIs over HTTPS and WebSockets."""
    from qruntime.service import serve

    if (certfile is None) != (keyfile is None):
        raise typer.BadParameter("give both --certfile and --keyfile, or neither")
    settings = Settings.from_env(
        host=host,
        port=port,
        data_dir=data_dir,
        database_url=database_url,
        workers=workers,
        certfile=certfile,
        keyfile=keyfile,
        tls=not no_tls,
        session_idle_seconds=session_idle,
        access_token_ttl=access_token_ttl,
        allow_unsandboxed=allow_unsandboxed,
        worker_memory=int(worker_memory * 1024**3),
        worker_processes=worker_processes,
        job_cpu_time=job_cpu_time,
        rate_burst=rate_burst,
    )
    # Given here rather than above: from_env reads None as "not given".
    settings = settings.model_copy(
        update={
            "rate_limit": positive_or_none("--rate-limit", rate_limit, float),
            "max_interim_results": positive_or_none(
                "--max-interim-results", max_interim_results, int
            ),
        }
    )

    def announce(url: str, service: Service) -> None:
        out.print(f"qruntime is listening on {url}", highlight=False)
        out.print(f"  data dir: {settings.data_dir}", highlight=False)
        database = settings.database_url or f"SQLite in {settings.data_dir}"
        out.print(f"  database: {database}; workers: {settings.workers}", highlight=False)
        rate = settings.rate_limit
        limit = f"{rate:g}/s per user, bursts of {settings.rate_burst}" if rate else "none"
        out.print(f"  submission rate limit: {limit}", highlight=False)
        if settings.tls and settings.certfile is None:
            cert = settings.tls_dir / "cert.pem"
            out.print(
                f"  TLS certificate: {cert} (self-signed; qruntime clients on this machine "
                "trust it; for IBM's clients set REQUESTS_CA_BUNDLE and "
                "WEBSOCKET_CLIENT_CA_BUNDLE to it)",
                highlight=False,
            )
        if not settings.tls:
            out.print("  [bold yellow]TLS is off:[/] IBM's clients cannot stream results.")
        _announce_sandbox(service)
        if service.first_user is not None:
            out.print(
                f"  created the user '{service.first_user.name}'; its API token is in "
                f"{service.first_user.token_file}",
                highlight=False,
            )
        out.print(
            "  connect: from qruntime import RuntimeProvider; "
            f'provider = RuntimeProvider(url="{url}", token=TOKEN)',
            highlight=False,
        )
        out.print("  health: /health answers 200 once the workers are warm", highlight=False)

    serve(settings, announce)


def positive_or_none(option: str, text: str, kind: type[float] | type[int]) -> float | None:
    """A positive number given on the command line, or None for 'none' (no limit)."""
    if text.strip().lower() == "none":
        return None
    try:
        value = kind(text)
    except ValueError:
        raise typer.BadParameter(
            f"{option} takes a positive number or 'none', not {text!r}"
        ) from None
    if not value > 0:
        raise typer.BadParameter(f"{option} takes a positive number or 'none', not {text!r}")
    return value


def _announce_sandbox(service: Service) -> None:
    sandbox = service.sandbox
    if sandbox is not None:
        who = f"uid {sandbox.user[0]}" if sandbox.user else "this user"
        out.print(
            f"  sandbox: bubblewrap; workers run as {who} with no network, a read-only system, "
            f"a private /tmp and at most {sandbox.max_processes} processes",
            highlight=False,
        )
    elif service.uploads_refused is None:
        out.print(
            f"  [bold red]NO SANDBOX: uploaded programs run unconfined[/] "
            f"(--allow-unsandboxed): {service.sandbox_problem}",
            highlight=False,
        )
    else:
        out.print(
            f"  [bold yellow]uploaded programs are refused:[/] {service.uploads_refused}",
            highlight=False,
        )


@admin.command("create-user")
def create_user(
    name: Annotated[str, typer.Argument(help="The user's name.")],
    instance: Annotated[
        list[str] | None,
        typer.Option(help="HUB/GROUP/PROJECT the user belongs to; repeat for several."),
    ] = None,
    plan: Annotated[
        str | None,
        typer.Option(help="Plan of instances created now: open or premium \\[default: premium]."),
    ] = None,
    is_admin: Annotated[bool, typer.Option("--admin", help="Make the user an admin.")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a user; print its API token as the last line."""
    from qruntime.cli.accounts import audit, opened
    from qruntime.store import AuditAction
    from qruntime.store.records import Plan

    if plan is not None and plan not in ("open", "premium"):
        raise typer.BadParameter(f"--plan is open or premium, not {plan!r}")
    instances = []
    for text in instance or ["ibm-q/open/main"]:
        parts = text.split("/")
        if len(parts) != 3 or not all(parts):
            raise typer.BadParameter(f"--instance takes HUB/GROUP/PROJECT, not {text!r}")
        instances.append(tuple(parts))
    with opened(data_dir, database_url) as store:
        user, token = store.create_user(name, is_admin=is_admin)
        names = []
        for hub, group, project in instances:
            existing = store.get_instance(hub, group, project)
            if existing is None:
                existing = store.ensure_instance(hub, group, project, plan=Plan(plan or "premium"))
            store.add_membership(user.id, existing.id)
            names.append(existing.name)
            out.print(f"{name} belongs to {existing.name} (plan {existing.plan})", highlight=False)
        audit(store, AuditAction.CREATE_USER, user.name, instances=names, admin=is_admin)
    print(token)
