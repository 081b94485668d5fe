"""The routes of IBM's APIs: ``/api`` (accounts, instances, backends) and ``/runtime``
(programs, jobs, results, streaming), built over one :class:`ServiceContext`.

    app = create_app(routers=routers(context))
"""

from __future__ import annotations

from fastapi import APIRouter

from qruntime.server.context import ServiceContext
from qruntime.server.routes import account, jobs, programs, stream


def api_router(context: ServiceContext) -> APIRouter:
    """IBM's account API under ``/api``."""
    return account.router(context)


def runtime_router(context: ServiceContext) -> APIRouter:
    """IBM's runtime API under ``/runtime``, its WebSocket stream included."""
    runtime = APIRouter()
    runtime.include_router(programs.router(context))
    runtime.include_router(jobs.router(context))
    runtime.include_router(stream.router(context))
    return runtime


def routers(context: ServiceContext) -> list[APIRouter]:
    """Every router of the service, for ``create_app(routers=...)``."""
    return [api_router(context), runtime_router(context)]


__all__ = ["api_router", "routers", "runtime_router"]
