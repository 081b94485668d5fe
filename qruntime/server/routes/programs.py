"""``/runtime/programs``: list, read, upload, update, publish and delete runtime programs.

Every change is written to the audit log; uploads and new sources count against the user's
submission rate (:mod:`qruntime.server.ratelimit`).
"""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations at run
# time, and they name ``CallerDep``, which is local to ``router``.

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from qruntime.errors import InputError
from qruntime.program import ProgramMetadata
from qruntime.server.body import json_body
from qruntime.server.context import ServiceContext
from qruntime.server.errors import Conflict, NotFound
from qruntime.server.routes.access import (
    MAX_OFFSET,
    check_may_change,
    check_may_upload,
    may_read_program,
    may_read_source,
    program_not_found,
)
from qruntime.server.routes.auth import Authenticated, Caller, audit
from qruntime.server.routes.blocking import blocking
from qruntime.server.routes.uploads import cost_of, decode_source, upload_metadata
from qruntime.server.routes.views import program_json
from qruntime.store import Store
from qruntime.store.records import AuditAction, Program, User

MAX_PAGE = 1000
"""The most programs one page holds; clients page on with ``offset`` until ``count``."""

UPDATABLE = ("name", "description", "cost", "spec")


def router(context: ServiceContext) -> APIRouter:
    """The ``/runtime/programs`` routes."""
    programs = APIRouter(prefix="/runtime/programs")
    store = context.store
    CallerDep = Annotated[Caller, Depends(Authenticated(context.callers))]

    async def visible(program_id: str, user: User) -> Program:
        try:
            program = await blocking(store.get_program, program_id)
        except NotFound:
            raise program_not_found(program_id) from None
        if not may_read_program(program, user):
            raise program_not_found(program_id)
        return program

    async def changeable(program_id: str, user: User) -> Program:
        program = await visible(program_id, user)
        check_may_change(program, user)
        return program

    def as_json(program: Program, user: User) -> dict[str, Any]:
        return program_json(program, with_data=may_read_source(program, user))

    async def audit_change(
        caller: Caller, request: Request, action: AuditAction, program_id: str, **details: Any
    ) -> None:
        await audit(store, request, caller.user.name, action, program_id, details)

    @programs.get("")
    async def list_programs(
        caller: CallerDep,
        limit: Annotated[int | None, Query(ge=0)] = None,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    ) -> dict[str, Any]:
        """``{"programs": [...], "count": total}``: built-in, public and the caller's own."""
        user = caller.user
        page, total = await blocking(
            store.list_programs,
            None if user.is_admin else user.id,
            limit=min(MAX_PAGE, MAX_PAGE if limit is None else limit),
            offset=offset,
        )
        return {"programs": [as_json(program, user) for program in page], "count": total}

    @programs.get("/{program_id}")
    async def get_program(caller: CallerDep, program_id: str) -> dict[str, Any]:
        """One program; its source in ``data`` for its author and for built-ins."""
        return as_json(await visible(program_id, caller.user), caller.user)

    @programs.post("", status_code=201)
    async def upload(caller: CallerDep, request: Request) -> JSONResponse:
        """Upload a program: 201 ``{"id": "<name>-<10 random characters>"}``."""
        context.submissions.check(caller.user.id)
        body = await json_object(request)
        user = caller.user
        check_may_upload(caller.instances)
        metadata = upload_metadata(body)
        source = decode_source(body.get("data"))
        await blocking(check_name_is_free, store, user, metadata.name, None)
        program = await blocking(
            store.create_program,
            name=metadata.name,
            source=source,
            owner_id=user.id,
            spec=metadata.spec,
            description=metadata.description,
            max_execution_time=metadata.max_execution_time,
            is_public=metadata.is_public,
        )
        await audit_change(
            caller,
            request,
            AuditAction.UPLOAD_PROGRAM,
            program.id,
            name=program.name,
            public=program.is_public,
            source_bytes=len(source.encode("utf-8")),
        )
        return JSONResponse({"id": program.id}, status_code=201)

    @programs.put("/{program_id}/data", status_code=204)
    async def update_data(caller: CallerDep, program_id: str, request: Request) -> Response:
        """Replace the program's source with the body: base64 of the new source."""
        context.submissions.check(caller.user.id)
        await changeable(program_id, caller.user)
        source = decode_source(await request.body())
        await blocking(store.update_program, program_id, source=source)
        size = len(source.encode("utf-8"))
        await audit_change(
            caller,
            request,
            AuditAction.UPDATE_PROGRAM,
            program_id,
            fields=["data"],
            source_bytes=size,
        )
        return Response(status_code=204)

    @programs.patch("/{program_id}")
    async def update_metadata(
        caller: CallerDep, program_id: str, request: Request
    ) -> dict[str, Any]:
        """Change any of ``name``, ``description``, ``cost`` and ``spec``; answer the program."""
        body = await json_object(request)
        unknown = sorted(set(body) - set(UPDATABLE))
        if unknown:
            raise InputError(
                f"cannot update {', '.join(unknown)}; a program's updatable fields are "
                f"{', '.join(UPDATABLE)}",
                field=unknown[0],
            )
        program = await changeable(program_id, caller.user)
        changes = metadata_changes(program, body)
        if "name" in changes:
            await blocking(check_name_is_free, store, caller.user, changes["name"], program.id)
        updated = await blocking(store.update_program, program_id, **changes)
        await audit_change(
            caller, request, AuditAction.UPDATE_PROGRAM, program_id, fields=sorted(body)
        )
        return as_json(updated, caller.user)

    @programs.delete("/{program_id}", status_code=204)
    async def delete_program(caller: CallerDep, program_id: str, request: Request) -> Response:
        """Delete the program; its jobs stay."""
        program = await changeable(program_id, caller.user)
        await blocking(store.delete_program, program_id)
        await audit_change(
            caller, request, AuditAction.DELETE_PROGRAM, program_id, name=program.name
        )
        return Response(status_code=204)

    @programs.put("/{program_id}/public", status_code=204)
    async def make_public(caller: CallerDep, program_id: str, request: Request) -> Response:
        """Let every user see and run the program."""
        await changeable(program_id, caller.user)
        await blocking(store.set_program_visibility, program_id, True)
        await audit_change(caller, request, AuditAction.MAKE_PROGRAM_PUBLIC, program_id)
        return Response(status_code=204)

    @programs.put("/{program_id}/private", status_code=204)
    async def make_private(caller: CallerDep, program_id: str, request: Request) -> Response:
        """Let only the author see and run the program."""
        await changeable(program_id, caller.user)
        await blocking(store.set_program_visibility, program_id, False)
        await audit_change(caller, request, AuditAction.MAKE_PROGRAM_PRIVATE, program_id)
        return Response(status_code=204)

    return programs


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object (whatever the Content-Type)."""
    body = await json_body(request)
    if not isinstance(body, dict):
        raise InputError("the request body must be a JSON object")
    return body


def metadata_changes(program: Program, body: dict[str, Any]) -> dict[str, Any]:
    """The store's keyword arguments for a PATCH body, each value checked."""
    changes: dict[str, Any] = {}
    if "name" in body:
        name = body["name"]
        if not isinstance(name, str) or not name.strip():
            raise InputError("'name' must be non-empty text", field="name")
        changes["name"] = name
    if "description" in body:
        if not isinstance(body["description"], str):
            raise InputError("'description' must be text", field="description")
        changes["description"] = body["description"]
    if "cost" in body:
        changes["max_execution_time"] = cost_of(body["cost"])
    if "spec" in body:
        spec = body["spec"] or {}
        changes["spec"] = ProgramMetadata.from_dict({"name": program.name, "spec": spec}).spec
    return changes


def check_name_is_free(store: Store, user: User, name: str, program_id: str | None) -> None:
    """409 if the user already has another program called ``name`` (IBM's duplicate rule)."""
    offset = 0
    while True:
        page, total = store.list_programs(user.id, limit=MAX_PAGE, offset=offset)
        for program in page:
            if program.owner_id == user.id and program.name == name and program.id != program_id:
                raise Conflict(
                    f"You already have a program named {name!r} (id {program.id}); "
                    "pick another name or update that program."
                )
        offset += len(page)
        if not page or offset >= total:
            return
