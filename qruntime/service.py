"""``Service``: one running qruntime — store, warm worker pool, scheduler and API — and the
ways to run it: ``qruntime serve`` (:func:`serve`) and in a background thread
(:func:`start_embedded`, behind ``RuntimeProvider.local()``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from qruntime.backends import default_catalogue
from qruntime.execution.events import JobEvents
from qruntime.execution.pool import WorkerPool
from qruntime.execution.sandbox import Sandbox, SandboxUnavailable
from qruntime.execution.scheduler import Scheduler
from qruntime.offload import offload
from qruntime.programs import builtin_programs
from qruntime.server.app import create_app
from qruntime.server.context import ServiceContext
from qruntime.server.routes import routers
from qruntime.server.tls import ensure_self_signed
from qruntime.settings import ADMIN_TOKEN_FILE, Settings
from qruntime.store import Store
from qruntime.store.records import Plan

logger = logging.getLogger(__name__)

LOCAL_INSTANCE = ("local", "default", "main")
"""The premium instance of the first user a new service makes for its operator."""


@dataclass(frozen=True)
class FirstUser:
    """The operator's account, made when a service starts on an empty store."""

    name: str
    token: str
    token_file: Path


class Service:
    """The parts of one qruntime service, built from its settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store.open(
            settings.sqlalchemy_url, max_interim_results=settings.max_interim_results
        )
        register_builtin_programs(self.store)
        self.first_user = self._ensure_first_user()
        self.catalogue = default_catalogue()
        self.events = JobEvents()
        self.sandbox, self.sandbox_problem = _sandbox(settings)
        self.pool = WorkerPool(
            size=settings.workers,
            memory_limit_bytes=settings.worker_memory or None,
            sandbox=self.sandbox,
            job_cpu_seconds=settings.job_cpu_time,
            uploads_refused=self.uploads_refused,
        )
        self._pool_ready = False
        self._pool_error: str | None = None
        self.scheduler = Scheduler(
            self.store,
            self.pool,
            self.catalogue,
            self.events,
            session_idle_seconds=settings.session_idle_seconds,
        )
        context = ServiceContext(
            settings,
            self.store,
            self.catalogue,
            self.scheduler,
            self.events,
            uploads_refused=self.uploads_refused,
        )
        self.app: FastAPI = create_app(
            health_checks=[self._workers_ready, self._store_reachable],
            routers=routers(context),
            lifespan=self._lifespan,
        )

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        warm_up = asyncio.create_task(self._start_workers())
        try:
            yield
        finally:
            warm_up.cancel()
            await asyncio.gather(warm_up, return_exceptions=True)
            await self.scheduler.close()
            await self.pool.close()
            self.store.close()

    async def _start_workers(self) -> None:
        try:
            # Meanwhile the catalogue finds the device snapshots, not the first request.
            await asyncio.gather(self.pool.start(), offload(self.catalogue.names))
        except Exception as exc:
            self._pool_error = f"the workers failed to start: {exc}"
            logger.exception("the workers failed to start")
            return
        await self.scheduler.start()
        self._pool_ready = True

    @property
    def uploads_refused(self) -> str | None:
        """Why uploaded programs may not run here (no sandbox, and not allowed without), or
        ``None``."""
        if self.sandbox is not None or self.settings.allow_unsandboxed:
            return None
        return (
            f"{self.sandbox_problem}; an operator may start the server with "
            "--allow-unsandboxed to run them unconfined"
        )

    def _workers_ready(self) -> str | None:
        if self._pool_error:
            return self._pool_error
        return None if self._pool_ready else "the workers are warming up"

    def _store_reachable(self) -> str | None:
        try:
            self.store.list_instances()
        except Exception as exc:
            return f"the store is not reachable: {exc}"
        return None

    def _ensure_first_user(self) -> FirstUser | None:
        if self.store.list_users():
            return None
        user, token = self.store.create_user("admin", is_admin=True)
        local = self.store.ensure_instance(*LOCAL_INSTANCE, plan=Plan.PREMIUM)
        self.store.add_membership(user.id, local.id)
        open_main = self.store.get_instance("ibm-q", "open", "main")
        if open_main is not None:
            self.store.add_membership(user.id, open_main.id)
        path = self.settings.data_dir / ADMIN_TOKEN_FILE
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(token + "\n")
        return FirstUser(user.name, token, path)


def tls_files(settings: Settings) -> tuple[Path, Path] | None:
    """The certificate and key to serve with: given ones, the data dir's, or none (no TLS)."""
    if not settings.tls:
        return None
    if settings.certfile and settings.keyfile:
        return settings.certfile, settings.keyfile
    files = ensure_self_signed(settings.tls_dir)
    return files.certfile, files.keyfile


def bind(settings: Settings) -> socket.socket:
    """Listen on the settings' address (port 0: any free port) before the app starts."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    return socket.create_server((settings.host, settings.port), family=family, backlog=2048)


def url_of(settings: Settings, sock: socket.socket) -> str:
    host = settings.host if ":" not in settings.host else f"[{settings.host}]"
    scheme = "https" if settings.tls else "http"
    return f"{scheme}://{host}:{sock.getsockname()[1]}"


def uvicorn_server(service: Service, tls: tuple[Path, Path] | None) -> uvicorn.Server:
    config = uvicorn.Config(
        service.app,
        ssl_certfile=str(tls[0]) if tls else None,
        ssl_keyfile=str(tls[1]) if tls else None,
        log_level="warning",
        access_log=False,
        lifespan="on",
        ws="websockets-sansio",
        # Results are JSON, mostly small; compressing each message costs both sides CPU.
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=5,
    )
    return uvicorn.Server(config)


def serve(settings: Settings, announce: Callable[[str, Service], None]) -> None:
    """Run the service until interrupted; ``announce(url, service)`` once it listens."""
    service = Service(settings)
    tls = tls_files(settings)
    sock = bind(settings)
    server = uvicorn_server(service, tls)
    announce(url_of(settings, sock), service)
    server.run(sockets=[sock])


def register_builtin_programs(store: Store) -> None:
    """Store (or refresh) the built-in programs, as every service start does."""
    for program_id, program in builtin_programs().items():
        metadata = program.metadata
        store.upsert_builtin_program(
            program_id,
            name=metadata.name,
            source=program.source,
            spec=metadata.spec,
            description=metadata.description,
            max_execution_time=metadata.max_execution_time,
        )


@dataclass
class EmbeddedService:
    """A service running in a background thread of this process."""

    url: str
    token: str
    data_dir: Path
    _server: uvicorn.Server
    _thread: threading.Thread

    def close(self) -> None:
        """Stop the service and wait for its thread."""
        self._server.should_exit = True
        self._thread.join(timeout=30)


def start_embedded(data_dir: Path, *, workers: int = 1, timeout: float = 180.0) -> EmbeddedService:
    """Start a service on 127.0.0.1 (a free port, TLS with the data dir's certificate) in a
    background thread; return once it is healthy, with a token of its operator."""
    settings = Settings(data_dir=data_dir, port=0, workers=workers)
    service = Service(settings)
    token = _operator_token(service)
    tls = tls_files(settings)
    sock = bind(settings)
    server = uvicorn_server(service, tls)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="qruntime-embedded", daemon=True
    )
    thread.start()
    embedded = EmbeddedService(url_of(settings, sock), token, data_dir, server, thread)
    try:
        wait_until_healthy(embedded.url, tls[0] if tls else None, timeout, thread.is_alive)
    except (TimeoutError, RuntimeError):
        embedded.close()
        raise
    return embedded


def _operator_token(service: Service) -> str:
    if service.first_user is not None:
        return service.first_user.token
    user = service.store.user_by_name("admin")
    if user is None:
        user, token = service.store.create_user("admin", is_admin=True)
        return token
    return service.store.issue_api_token(user.id)


def wait_until_healthy(
    url: str,
    cafile: Path | None,
    timeout: float,
    alive: Callable[[], bool] = lambda: True,
) -> None:
    """Return once ``url``/health answers 200; ``TimeoutError`` after ``timeout`` seconds,
    ``RuntimeError`` as soon as ``alive()`` says the service stopped."""
    import time

    import httpx

    deadline = time.monotonic() + timeout
    verify: Any = ssl.create_default_context(cafile=str(cafile)) if cafile else True
    last = "no answer"
    with httpx.Client(verify=verify, timeout=5) as client:
        while time.monotonic() < deadline:
            if not alive():
                raise RuntimeError(f"the qruntime service at {url} stopped while starting")
            try:
                response = client.get(f"{url}/health")
                if response.status_code == 200:
                    return
                last = response.text
            except httpx.HTTPError as exc:
                last = str(exc)
            time.sleep(0.05)
    raise TimeoutError(f"the qruntime service at {url} did not become healthy: {last}")


def _sandbox(settings: Settings) -> tuple[Sandbox | None, str | None]:
    """The workers' sandbox, or ``None`` and why there is none."""
    hidden = [settings.data_dir, settings.certfile, settings.keyfile]
    try:
        sandbox = Sandbox.detect(
            [path for path in hidden if path is not None],
            max_processes=settings.worker_processes,
        )
    except SandboxUnavailable as exc:
        if settings.allow_unsandboxed:
            logger.warning(
                "NO SANDBOX: %s. Uploaded programs run unconfined, with this user's rights "
                "(--allow-unsandboxed).",
                exc,
            )
        else:
            logger.warning("No sandbox: %s. Uploaded programs will be refused.", exc)
        return None, str(exc)
    return sandbox, None
