"""Fixtures shared by the test modules."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import make_url

from qruntime.backends import BackendCatalogue
from qruntime.service import wait_until_healthy
from qruntime.store import normalize_url

SIMULATOR_NAMES = [
    "ibmq_qasm_simulator",
    "simulator_statevector",
    "simulator_mps",
    "simulator_stabilizer",
    "simulator_extended_stabilizer",
]
"""IBM's simulator names, in the order the catalogue lists them."""


@pytest.fixture(scope="module")
def catalogue() -> BackendCatalogue:
    """A catalogue of its own for a test module (the process-wide one stays untouched)."""
    return BackendCatalogue()


# -- a real `qruntime serve` process --------------------------------------------------------


@dataclass
class LiveServer:
    """A `qruntime serve` process on a free port of 127.0.0.1, with TLS and its data dir."""

    url: str
    data_dir: Path
    token: str
    """API token of a premium user (instance ``test/premium/main`` and ``ibm-q/open/main``)."""
    open_token: str
    """API token of a user whose only instance is ``ibm-q/open/main``."""
    process: subprocess.Popen[str]
    database_url: str | None

    @property
    def certfile(self) -> Path:
        return self.data_dir / "tls" / "cert.pem"

    def stop(self, kill: bool = False) -> None:
        if self.process.poll() is None:
            if kill:
                self.process.kill()
            else:
                self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout=60)


def qruntime_command() -> list[str]:
    script = Path(sys.executable).parent / "qruntime"
    return [str(script)] if script.exists() else [sys.executable, "-m", "qruntime.cli"]


def create_user(
    data_dir: Path,
    name: str,
    *instances: str,
    plan: str = "premium",
    database_url: str | None = None,
) -> str:
    args = [*qruntime_command(), "admin", "create-user", name, "--data-dir", str(data_dir)]
    if database_url:
        args += ["--database-url", database_url]
    for instance in instances:
        args += ["--instance", instance]
    args += ["--plan", plan]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout.strip().splitlines()[-1]


def start_server(
    data_dir: Path, *, workers: int = 2, extra: tuple[str, ...] = (), timeout: float = 180
) -> tuple[subprocess.Popen[str], str]:
    """Start `qruntime serve` and wait until /health answers 200; return it and its URL."""
    command = [
        *qruntime_command(), "serve", "--port", "0", "--data-dir", str(data_dir),
        "--workers", str(workers), *extra,
    ]  # fmt: skip
    log = open(data_dir / "serve.log", "a")  # noqa: SIM115 -- the process writes it until stopped
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True)
    assert process.stdout is not None
    url = ""
    deadline = time.monotonic() + timeout
    for line in process.stdout:
        if "listening on" in line:
            url = line.split("listening on", 1)[1].strip()
            break
        if time.monotonic() > deadline:
            break
    if not url:
        process.kill()
        raise RuntimeError(f"qruntime serve did not start: {(data_dir / 'serve.log').read_text()}")
    threading.Thread(target=process.stdout.read, daemon=True).start()  # keep the pipe drained
    try:
        wait_until_healthy(
            url,
            data_dir / "tls" / "cert.pem",
            deadline - time.monotonic(),
            lambda: process.poll() is None,
        )
    except (TimeoutError, RuntimeError) as exc:
        process.kill()
        raise RuntimeError(f"{exc}: {(data_dir / 'serve.log').read_text()}") from exc
    return process, url


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A real server for a test module, with a premium and an open-plan user."""
    data_dir = tmp_path_factory.mktemp("qruntime-data")
    token = create_user(data_dir, "alice", "test/premium/main", "ibm-q/open/main")
    open_token = create_user(data_dir, "bob", "ibm-q/open/main", plan="open")
    process, url = start_server(data_dir)
    server = LiveServer(url, data_dir, token, open_token, process, None)
    try:
        yield server
    finally:
        server.stop()


# PostgreSQL -----------------------------------------------------------------------------------

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _postgres_admin_url() -> str:
    return os.environ.get("QRUNTIME_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL


def libpq_url(url: str) -> str:
    """The libpq form of a SQLAlchemy URL, for psycopg directly."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A database of this test process's own (xdist workers never share one), dropped at
    the end."""
    admin_url = _postgres_admin_url()
    try:
        admin = psycopg.connect(libpq_url(admin_url), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL is not reachable at {make_url(admin_url)!r}: {exc}"
        if os.environ.get("QRUNTIME_REQUIRE_POSTGRES") == "1":
            pytest.fail(message + " (QRUNTIME_REQUIRE_POSTGRES=1)")
        pytest.skip(message)
    name = f"qruntime_test_{secrets.token_hex(6)}"
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield normalize_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database: a SQLite file, or a fresh schema in PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'qruntime.db'}"
    return fresh_schema(request.getfixturevalue("postgres_database"))


def fresh_schema(postgres_database: str) -> str:
    """The URL of a new, empty schema of the test database (its ``search_path``)."""
    schema = f"test_{secrets.token_hex(6)}"
    with psycopg.connect(libpq_url(postgres_database), autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    url = make_url(postgres_database).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)
