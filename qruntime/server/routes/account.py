"""IBM's account API under ``/api``: login, discovery of the runtime URL, instances, backends.

IBM's clients call these in order when they start (``version``, ``users/loginWithToken``,
``users/me``, ``Network``, then ``devices/v/1`` for every instance) and build their providers
and backends from the answers.
"""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations at run
# time, and they name ``CallerDep``, which is local to ``router``.

import json
import threading
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from qruntime import __version__
from qruntime.errors import InputError
from qruntime.server.body import json_body
from qruntime.server.context import ServiceContext
from qruntime.server.errors import NotFound, Unauthorized
from qruntime.server.routes.access import instance_named, may_use_backend, usable_backends
from qruntime.server.routes.auth import Authenticated, Caller, audit, client_address
from qruntime.server.routes.blocking import blocking
from qruntime.server.routes.views import hubs_json, iso
from qruntime.store import Store
from qruntime.store.records import AuditAction, Instance

DEVICE_PATH = "/Network/{hub}/Groups/{group}/Projects/{project}/devices"


def service_urls(request: Request, tls: bool) -> dict[str, Any]:
    """The ``urls`` of ``GET /api/users/me``, on the host and port the client reached.

    IBM's clients stream from ``runtime_url.replace('https', 'wss')``, so the runtime URL is
    https whenever this server speaks TLS (or a proxy in front of it does).
    """
    base = request.base_url
    secure = tls or base.scheme == "https"
    root = str(base.replace(scheme="https" if secure else "http")).rstrip("/")
    ws_root = str(base.replace(scheme="wss" if secure else "ws")).rstrip("/")
    return {
        "http": f"{root}/api",
        "ws": f"{ws_root}/ws",
        "services": {"runtime": f"{root}/runtime"},
    }


def audit_failed_login(store: Store, api_token: str, client: str | None) -> None:
    """Record a refused login, naming the token's holder if it has one (never the token)."""
    holder = store.api_token_holder(api_token)
    if holder is None:
        name, why = None, "unknown API token"
    else:
        user, revoked = holder
        name = user.name
        why = "revoked API token" if revoked else "user disabled" if user.disabled else "refused"
    store.add_audit_entry(name, AuditAction.LOGIN_FAILED, name, {"reason": why}, client)


def router(context: ServiceContext) -> APIRouter:
    """The ``/api`` routes."""
    api = APIRouter(prefix="/api")
    store = context.store
    catalogue = context.catalogue
    caller_of = Authenticated(context.callers)
    CallerDep = Annotated[Caller, Depends(caller_of)]

    async def member_instance(caller: Caller, hub: str, group: str, project: str) -> Instance:
        return instance_named(caller.instances, hub, group, project)

    def may_use(instance: Instance, name: str) -> bool:
        return name in catalogue.names() and may_use_backend(
            instance, catalogue.info(name).simulator
        )

    async def usable_backend(instance: Instance, name: str) -> str:
        if not await blocking(may_use, instance, name):
            raise NotFound(f"No backend {name!r} in instance {instance.name}.")
        return name

    @api.get("/version")
    def version() -> dict[str, Any]:
        """What IBM's clients check first: a JSON object with ``api-auth``."""
        return {"new_api": True, "api-auth": "0.1", "qruntime": __version__}

    @api.post("/users/loginWithToken")
    async def login_with_token(request: Request) -> dict[str, Any]:
        """Trade an API token for an access token: ``{"id", "ttl", "created", "userId"}``."""
        body = await json_body(request)
        api_token = body.get("apiToken") if isinstance(body, dict) else None
        if not isinstance(api_token, str) or not api_token:
            raise InputError('Send {"apiToken": "<your API token>"}.', field="apiToken")
        user = await blocking(store.user_by_api_token, api_token)
        if user is None:
            await blocking(audit_failed_login, store, api_token, client_address(request))
            raise Unauthorized("Login failed: the API token is unknown, revoked or disabled.")
        ttl = context.settings.access_token_ttl
        token = await blocking(store.create_access_token, user.id, ttl)
        await audit(
            store, request, user.name, AuditAction.LOGIN, user.name, {"access_token_ttl": ttl}
        )
        created = iso(datetime.now(UTC))
        return {"id": token, "ttl": ttl, "created": created, "userId": str(user.id)}

    @api.get("/users/me")
    def me(caller: CallerDep, request: Request) -> dict[str, Any]:
        """The caller and, in ``urls``, where this service's APIs are."""
        user = caller.user
        return {
            "id": str(user.id),
            "userId": str(user.id),
            "username": user.name,
            "isAdmin": user.is_admin,
            "urls": service_urls(request, context.settings.tls),
        }

    @api.post("/logout", status_code=204)
    @api.post("/users/logout", status_code=204, include_in_schema=False)
    async def logout(caller: CallerDep, request: Request) -> Response:
        """Revoke the access token this request carries; it is refused from now on."""
        # Revoke, then forget: a lookup that starts after the forgetting finds it revoked.
        await blocking(store.revoke_access_token, caller.access_token)
        context.callers.forget(caller.access_token)
        name = caller.user.name
        await audit(store, request, name, AuditAction.LOGOUT, name)
        return Response(status_code=204)

    @api.get("/Network")
    async def network(caller: CallerDep) -> list[dict[str, Any]]:
        """The caller's instances as IBM's hub -> group -> project tree."""
        return hubs_json(caller.instances)

    rendered_devices: dict[tuple[str, ...], bytes] = {}
    rendering = threading.Lock()

    def devices_json(names: tuple[str, ...]) -> bytes:
        # The configurations never change while the service runs, and large devices' are big:
        # each list is rendered once, by the first of the clients that start together.
        with rendering:
            if names not in rendered_devices:
                configurations = [catalogue.configuration(name) for name in names]
                rendered_devices[names] = json.dumps(configurations).encode()
            return rendered_devices[names]

    @api.get(DEVICE_PATH + "/v/1", response_model=list[dict[str, Any]])
    async def devices(caller: CallerDep, hub: str, group: str, project: str) -> Response:
        """Configurations of the backends the instance may use (open plan: simulators)."""
        instance = await member_instance(caller, hub, group, project)
        names = tuple(await blocking(usable_backends, catalogue, instance))
        body = await blocking(devices_json, names)
        return Response(body, media_type="application/json")

    @api.get(DEVICE_PATH + "/{backend}/queue/status")
    async def queue_status(
        caller: CallerDep, hub: str, group: str, project: str, backend: str
    ) -> dict[str, Any]:
        """``lengthQueue``: the jobs queued for or running on the backend, from every user."""
        instance = await member_instance(caller, hub, group, project)
        name = await usable_backend(instance, backend)
        _, pending = await blocking(store.list_jobs, backend=name, pending=True, limit=0)
        return await blocking(catalogue.status, name, pending)

    @api.get(DEVICE_PATH + "/{backend}/properties")
    async def properties(
        caller: CallerDep, hub: str, group: str, project: str, backend: str
    ) -> JSONResponse:
        """The device's calibration (``{}`` for simulators: the clients read that as none)."""
        instance = await member_instance(caller, hub, group, project)
        name = await usable_backend(instance, backend)
        return JSONResponse(await blocking(catalogue.properties, name) or {})

    @api.get(DEVICE_PATH + "/{backend}/defaults")
    async def defaults(
        caller: CallerDep, hub: str, group: str, project: str, backend: str
    ) -> dict[str, Any]:
        """Pulse defaults: none, as no backend here takes pulse jobs."""
        instance = await member_instance(caller, hub, group, project)
        await usable_backend(instance, backend)
        return {}

    return api
