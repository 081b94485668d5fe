"""What a job must pass before it is stored: a visible program, a backend its instance may
use, and inputs that decode and match the program's parameter spec."""

from __future__ import annotations

import datetime
import functools
import json
from typing import Any

from starlette.concurrency import run_in_threadpool

from qruntime.backends import BackendInfo
from qruntime.errors import InputError
from qruntime.program import InputsValidator
from qruntime.serialization import decode_inputs
from qruntime.server.context import ServiceContext
from qruntime.server.errors import Forbidden, NotFound
from qruntime.server.routes.access import (
    may_read_program,
    may_use_backend,
    program_not_found,
    usable_backends,
)
from qruntime.server.routes.blocking import blocking
from qruntime.store.records import Instance, Program, User


class JobChecks:
    """The checks of ``POST /runtime/jobs``, each answering 400, 403 or 404 with the reason."""

    def __init__(self, context: ServiceContext) -> None:
        self._store = context.store
        self._catalogue = context.catalogue

    async def program(self, program_id: str, user: User) -> Program:
        """The program to run, if the user may see it; 404 otherwise."""
        try:
            program = await blocking(self._store.get_program, program_id)
        except NotFound:
            raise program_not_found(program_id) from None
        if not may_read_program(program, user):
            raise program_not_found(program_id)
        return program

    async def backend(self, name: str | None, instance: Instance, program: Program) -> BackendInfo:
        """The backend to run on: it exists (400 listing names), the instance's plan allows it
        (403 listing the allowed ones) and it is large enough for the program (400)."""
        return await blocking(self._check_backend, name, instance, program)

    def _check_backend(self, name: str | None, instance: Instance, program: Program) -> BackendInfo:
        if name is None:
            raise InputError(
                "'backend' is required; backends of instance "
                f"{instance.name}: {', '.join(usable_backends(self._catalogue, instance))}",
                field="backend",
            )
        info = self._catalogue.info(name)  # BackendNotFoundError (400) lists the names
        if not may_use_backend(instance, info.simulator):
            raise Forbidden(
                f"Backend {name!r} is not available to instance {instance.name} "
                f"({instance.plan.value} plan: simulators only). Use one of: "
                f"{', '.join(usable_backends(self._catalogue, instance))}; or run from a "
                "premium instance."
            )
        requirements = program.spec.get("backend_requirements")
        needed = requirements.get("min_num_qubits") if isinstance(requirements, dict) else None
        if isinstance(needed, int) and info.num_qubits < needed:
            raise InputError(
                f"Program {program.id!r} needs a backend with at least {needed} qubits; "
                f"{name} has {info.num_qubits}.",
                field="backend",
            )
        return info

    async def inputs(self, program: Program, params: dict[str, Any]) -> None:
        """The inputs decode (400 naming the input otherwise) and match ``spec.parameters``.

        Decoding can take a while (circuits, arrays), so it runs off the event loop, in the
        general thread pool rather than beside the store's short calls; the decoded values are
        only checked, never stored: the job keeps the params as sent.
        """
        await run_in_threadpool(check_inputs, program, params)


def check_inputs(program: Program, params: dict[str, Any]) -> None:
    """Decode the wire-encoded ``params`` and validate them against the program's spec."""
    decoded = decode_inputs(params)
    schema = json.dumps((program.spec or {}).get("parameters") or {}, sort_keys=True)
    _validator(program.id, program.updated, schema).validate(decoded)


@functools.lru_cache(maxsize=256)
def _validator(program_id: str, updated: datetime.datetime, schema: str) -> InputsValidator:
    # Checking and compiling a schema costs milliseconds; a program's spec changes only with
    # its ``updated`` time, so one validator serves all its jobs.
    return InputsValidator(json.loads(schema))
