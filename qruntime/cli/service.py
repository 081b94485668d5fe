"""``qruntime serve`` and ``qruntime admin``: running a service and managing its accounts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from qruntime.settings import DEFAULT_PORT, Settings

out = Console(soft_wrap=True)
admin = typer.Typer(help="Manage users and instances (works on the store directly).")

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
    session_idle: Annotated[
        float,
        typer.Option(
            min=0.001,
            help="Seconds a session keeps its device with none of its jobs queued or running.",
        ),
    ] = 300.0,
) -> None:
    """Run the runtime service: IBM's /api and /runtime APIs over HTTPS and WebSockets."""
    from qruntime.service import Service, serve

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
    )

    def announce(url: str, service: Service) -> None:
        out.print(f"qruntime is listening on {url}", highlight=False)
        out.print(f"  data dir: {settings.data_dir}", highlight=False)
        database = settings.database_url or f"SQLite in {settings.data_dir}"
        out.print(f"  database: {database}; workers: {settings.workers}", highlight=False)
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
    from qruntime.store import Store
    from qruntime.store.records import Plan

    if plan is not None and plan not in ("open", "premium"):
        raise typer.BadParameter(f"--plan is open or premium, not {plan!r}")
    instances = []
    for text in instance or ["ibm-q/open/main"]:
        parts = text.split("/")
        if len(parts) != 3 or not all(parts):
            raise typer.BadParameter(f"--instance takes HUB/GROUP/PROJECT, not {text!r}")
        instances.append(tuple(parts))
    settings = Settings.from_env(data_dir=data_dir, database_url=database_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with Store.open(settings.sqlalchemy_url) as store:
        user, token = store.create_user(name, is_admin=is_admin)
        for hub, group, project in instances:
            existing = store.get_instance(hub, group, project)
            if existing is None:
                existing = store.ensure_instance(hub, group, project, plan=Plan(plan or "premium"))
            store.add_membership(user.id, existing.id)
            out.print(f"{name} belongs to {existing.name} (plan {existing.plan})", highlight=False)
    print(token)
