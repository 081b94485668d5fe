"""Who may do what: instances and their plans, program visibility and ownership.

The rules, in IBM's terms: a user works through the hub/group/project instances they are a
member of; an ``open`` instance runs simulators only and uploads no programs, a ``premium`` one
runs every backend. A program is visible to everyone when built in or public, else only to its
author (and admins); only the author or an admin changes it, and built-ins change never.
A job is seen by whoever submitted it, through an instance they still belong to. What a user
may not see answers 404, so that ids leak nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from qruntime.backends import BackendCatalogue
from qruntime.server.errors import Forbidden, NotFound
from qruntime.store import OPEN_INSTANCE
from qruntime.store.records import Instance, Plan, Program, User

MAX_OFFSET = 2**63 - 1
"""The largest page offset the databases take (a signed 64-bit integer); past it is a 400."""


def may_use_backend(instance: Instance, simulator: bool) -> bool:
    """Whether jobs of ``instance`` may run on a backend (open plans: simulators only)."""
    return instance.plan is Plan.PREMIUM or simulator


def usable_backends(catalogue: BackendCatalogue, instance: Instance) -> list[str]:
    """The names of the backends ``instance`` may use, in the catalogue's order."""
    return [
        name
        for name in catalogue.names()
        if may_use_backend(instance, catalogue.info(name).simulator)
    ]


def instance_named(instances: Sequence[Instance], hub: str, group: str, project: str) -> Instance:
    """The caller's instance ``hub/group/project``; 403 naming theirs if it is not one."""
    for instance in instances:
        if (instance.hub, instance.group, instance.project) == (hub, group, project):
            return instance
    raise Forbidden(
        f"You are not a member of {hub}/{group}/{project}. "
        f"Your instances are: {names_of(instances)}."
    )


def default_instance(instances: Sequence[Instance]) -> Instance:
    """Where a job without hub/group/project goes: the first premium instance, else
    ``ibm-q/open/main``, else the first (as qiskit-ibm-runtime prefers premium ones)."""
    for instance in instances:
        if instance.plan is Plan.PREMIUM:
            return instance
    for instance in instances:
        if (instance.hub, instance.group, instance.project) == OPEN_INSTANCE:
            return instance
    if not instances:
        raise Forbidden("You are a member of no instance; ask an administrator to add you.")
    return instances[0]


def names_of(instances: Sequence[Instance]) -> str:
    """``hub/group/project`` of each instance, for messages."""
    return ", ".join(instance.name for instance in instances) or "none"


def may_read_program(program: Program, user: User) -> bool:
    """Built-in and public programs are everyone's; private ones their author's (and admins')."""
    return program.is_builtin or program.is_public or is_author(program, user)


def may_read_source(program: Program, user: User) -> bool:
    """The source of a built-in is public; of an uploaded program, its author's only."""
    return program.is_builtin or is_author(program, user)


def is_author(program: Program, user: User) -> bool:
    """Whether ``user`` acts as the program's author: its owner, or an admin (not built-ins)."""
    return program.owner_id == user.id or (user.is_admin and not program.is_builtin)


def check_may_change(program: Program, user: User) -> None:
    """Raise unless ``user`` may update, delete or publish ``program``.

    Someone else's private program is 404 (it does not exist for them); a public one is 403.
    """
    if program.is_builtin:
        raise Forbidden(f"Program {program.id!r} is built in and cannot be changed or deleted.")
    if is_author(program, user):
        return
    if not program.is_public:
        raise program_not_found(program.id)
    raise Forbidden(
        f"Program {program.id!r} belongs to another user; only its author may change it."
    )


def check_may_upload(instances: Sequence[Instance]) -> None:
    """Uploading programs needs a premium membership (IBM's open plan could not)."""
    if not any(instance.plan is Plan.PREMIUM for instance in instances):
        raise Forbidden(
            "Uploading programs needs a premium instance; yours are: "
            f"{names_of(instances)} (open plan). Ask an administrator for a premium instance."
        )


def program_not_found(program_id: str) -> NotFound:
    """The same 404 for a program that does not exist and one the user may not see."""
    return NotFound(f"Program not found: no program {program_id!r} that you can see.")


def job_not_found(job_id: str) -> NotFound:
    """The same 404 for a job that does not exist and one the user may not see."""
    return NotFound(f"Job not found: no job {job_id!r} in your instances.")
