"""``qruntime admin``: users, their tokens and memberships, and instances with their plans,
fair-share weights and limits, and the audit log. The commands work on the store directly (the
server need not run); a running server sees a change within a second. Every command that
changes something writes an audit-log entry whose actor is ``admin-cli``."""

from __future__ import annotations

import contextlib
import getpass
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from qruntime.cli.console import fail, out
from qruntime.cli.service import DatabaseUrl, DataDir, admin
from qruntime.errors import InputError
from qruntime.settings import Settings

if TYPE_CHECKING:
    from qruntime.store import AuditAction, Instance, Store, User

InstanceName = Annotated[str, typer.Argument(help="HUB/GROUP/PROJECT.")]
UserName = Annotated[str, typer.Argument(help="The user's name.")]
Limit = Annotated[
    str | None, typer.Option(help="A number of jobs, or 'none' for no limit \\[default: as is].")
]
NO_LIMIT = "none"


@contextmanager
def opened(data_dir: DataDir, database_url: DatabaseUrl) -> Iterator[Store]:
    from qruntime.store import Store

    settings = Settings.from_env(data_dir=data_dir, database_url=database_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with Store.open(settings.sqlalchemy_url) as store:
        try:
            yield store
        except InputError as exc:
            raise fail(str(exc)) from None


def audit(store: Store, action: AuditAction, target: str, **details: Any) -> None:
    """Record an administrator's change, with the account that ran the command where the
    system can tell."""
    from qruntime.store import ADMIN_CLI

    # Some containers have neither a login name nor a password entry to tell it.
    with contextlib.suppress(OSError, KeyError):
        details["os_user"] = getpass.getuser()
    store.add_audit_entry(ADMIN_CLI, action, target, details)


def named_user(store: Store, name: str) -> User:
    user = store.user_by_name(name)
    if user is None:
        known = ", ".join(u.name for u in store.list_users()) or "none"
        raise fail(f"no user {name!r}; the users are: {known}")
    return user


def named_instance(store: Store, name: str) -> Instance:
    hub, group, project = instance_parts(name)
    instance = store.get_instance(hub, group, project)
    if instance is None:
        known = ", ".join(i.name for i in store.list_instances())
        raise fail(f"no instance {name!r}; the instances are: {known}")
    return instance


def instance_parts(name: str) -> tuple[str, str, str]:
    parts = name.split("/")
    if len(parts) != 3 or not all(parts):
        raise fail(f"an instance is named HUB/GROUP/PROJECT, not {name!r}")
    return parts[0], parts[1], parts[2]


def limit_value(option: str, text: str) -> int | None:
    if text.strip().lower() == NO_LIMIT:
        return None
    try:
        value = int(text)
    except ValueError:
        raise fail(f"{option} takes a number of jobs or 'none', not {text!r}") from None
    if value < 1:
        raise fail(f"{option} takes a number of jobs of at least 1 or 'none', not {value}")
    return value


@admin.command("users")
def users(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """List the users, with their instances."""
    with opened(data_dir, database_url) as store:
        table = Table("user", "admin", "disabled", "instances")
        for user in store.list_users():
            instances = ", ".join(i.name for i in store.instances_of(user.id))
            table.add_row(user.name, str(user.is_admin), str(user.disabled), instances)
        out.print(table)


@admin.command("disable-user")
def disable_user(
    name: UserName,
    enable: Annotated[bool, typer.Option("--enable", help="Enable the user again.")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Disable a user: their API and access tokens stop working (within a second)."""
    from qruntime.store import AuditAction

    with opened(data_dir, database_url) as store:
        user = store.disable_user(named_user(store, name).id, disabled=not enable)
        audit(store, AuditAction.ENABLE_USER if enable else AuditAction.DISABLE_USER, user.name)
        out.print(f"{user.name} is {'disabled' if user.disabled else 'enabled'}", highlight=False)


@admin.command("rotate-token")
def rotate_token(
    name: UserName, data_dir: DataDir = None, database_url: DatabaseUrl = None
) -> None:
    """Give a user a new API token and revoke their others; print it as the last line."""
    from qruntime.store import AuditAction

    with opened(data_dir, database_url) as store:
        user = named_user(store, name)
        old = [token for token in store.api_tokens_of(user.id) if token.revoked is None]
        token = store.issue_api_token(user.id)
        for info in old:
            store.revoke_api_token(info.id)
        audit(store, AuditAction.ROTATE_TOKEN, user.name, revoked_tokens=len(old))
        out.print(f"revoked {len(old)} API token(s) of {user.name}", highlight=False)
    print(token)


@admin.command("create-instance")
def create_instance(
    name: InstanceName,
    plan: Annotated[str, typer.Option(help="open (simulators only) or premium.")] = "premium",
    weight: Annotated[float, typer.Option(help="Fair-share weight.")] = 1.0,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an instance (a hub/group/project)."""
    from qruntime.store import AuditAction

    with opened(data_dir, database_url) as store:
        hub, group, project = instance_parts(name)
        if store.get_instance(hub, group, project) is not None:
            raise fail(f"the instance {name} exists; change it with `qruntime admin set-instance`")
        instance = store.ensure_instance(hub, group, project, plan=plan, weight=weight)
        audit(
            store,
            AuditAction.CREATE_INSTANCE,
            instance.name,
            plan=instance.plan.value,
            weight=instance.weight,
        )
        out.print(f"created {instance.name} (plan {instance.plan})", highlight=False)


@admin.command("set-instance")
def set_instance(
    name: InstanceName,
    plan: Annotated[str | None, typer.Option(help="open or premium.")] = None,
    weight: Annotated[float | None, typer.Option(help="Fair-share weight.")] = None,
    max_queued: Limit = None,
    max_running: Limit = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Change an instance's plan, fair-share weight, or limits on queued and running jobs."""
    from qruntime.store import UNSET, AuditAction

    with opened(data_dir, database_url) as store:
        changes: dict[str, Any] = {}
        if plan is not None:
            changes["plan"] = plan
        if weight is not None:
            changes["weight"] = weight
        if max_queued is not None:
            changes["max_queued"] = limit_value("--max-queued", max_queued)
        if max_running is not None:
            changes["max_running"] = limit_value("--max-running", max_running)
        instance = store.set_instance(
            named_instance(store, name).id,
            plan=changes.get("plan", UNSET),
            weight=changes.get("weight", UNSET),
            max_queued=changes.get("max_queued", UNSET),
            max_running=changes.get("max_running", UNSET),
        )
        audit(store, AuditAction.SET_INSTANCE, instance.name, **changes)
        out.print(
            f"{instance.name}: plan {instance.plan}, weight {instance.weight:g}, "
            f"max queued {instance.max_queued or NO_LIMIT}, "
            f"max running {instance.max_running or NO_LIMIT}",
            highlight=False,
        )


def membership_command(remove: bool) -> Callable[..., None]:
    """``grant`` (``remove=False``) or ``revoke``: one user, one instance, one membership."""

    def command(
        user: UserName,
        instance: InstanceName,
        data_dir: DataDir = None,
        database_url: DatabaseUrl = None,
    ) -> None:
        from qruntime.store import AuditAction

        with opened(data_dir, database_url) as store:
            member, target = named_user(store, user), named_instance(store, instance)
            if not remove:
                store.add_membership(member.id, target.id)
                verb = "belongs"
            elif store.remove_membership(member.id, target.id):
                verb = "no longer belongs"
            else:
                verb = "did not belong"
            action = AuditAction.REVOKE if remove else AuditAction.GRANT
            audit(store, action, member.name, instance=target.name)
            out.print(f"{member.name} {verb} to {target.name}", highlight=False)

    return command


admin.command("grant", help="Make a user a member of an instance.")(membership_command(False))
admin.command(
    "revoke", help="Take an instance from a user (within a second for a running server)."
)(membership_command(True))


@admin.command("audit")
def audit_log(
    limit: Annotated[int, typer.Option(min=0, help="How many entries, newest first.")] = 100,
    user: Annotated[
        str | None, typer.Option(help="Only what this user did, or what was done to them.")
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Show the audit log, newest first: logins (failed ones too), logouts, program changes
    and the changes made with `qruntime admin`."""
    with opened(data_dir, database_url) as store:
        entries = store.audit_entries(limit=limit, user=user)
    table = Table("time (UTC)", "actor", "action", "target", "details", "client")
    for entry in entries:
        table.add_row(
            entry.time.strftime("%Y-%m-%d %H:%M:%S"),
            entry.actor or "(unknown)",
            entry.action,
            entry.target or "",
            json.dumps(entry.details, sort_keys=True) if entry.details else "",
            entry.client or "",
        )
    out.print(table)
