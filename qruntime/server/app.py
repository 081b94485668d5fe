"""``create_app``: the ASGI application of one qruntime service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from qruntime import __version__
from qruntime.server.body import MAX_BODY_BYTES, BodySizeLimit
from qruntime.server.errors import error_response, install_error_handlers

HealthCheck = Callable[[], str | None]
"""Returns ``None`` when that part is ready, or a sentence saying what is not."""


def create_app(
    *,
    health_checks: list[HealthCheck] | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    routers: list[Any] | None = None,
    lifespan: Any = None,
) -> FastAPI:
    """The application: error handling, body limits, ``/health``, and the given routers.

    ``lifespan`` starts and stops what the routes need (the worker pool, the scheduler).
    """
    app = FastAPI(
        title="qruntime", version=__version__, docs_url=None, redoc_url=None, lifespan=lifespan
    )
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, limit=max_body_bytes)
    checks = list(health_checks or [])

    @app.get("/health")
    def health() -> JSONResponse:
        """200 once every part is ready (workers warm, store reachable), else 503."""
        problems = [problem for check in checks if (problem := check())]
        if problems:
            return error_response(503, "; ".join(problems))
        return JSONResponse({"status": "ok"})

    for router in routers or []:
        app.include_router(router)
    return app
