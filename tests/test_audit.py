"""The audit log: logins, logouts, program changes and `qruntime admin` changes each leave one
entry naming who did what to what, on SQLite and on PostgreSQL, and no entry holds a token."""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from sqlalchemy import inspect, text
from typer.testing import CliRunner

from qruntime.backends import BackendCatalogue
from qruntime.cli import app as cli_app
from qruntime.execution.events import JobEvents
from qruntime.server.context import ServiceContext
from qruntime.settings import Settings
from qruntime.store import ADMIN_CLI, AuditAction, AuditEntry, Store
from qruntime.store.database import Database
from qruntime.store.migrate import alembic_config, current_revision, head_revision
from tests.conftest import qruntime_command
from tests.test_server_routes import (
    PREMIUM,
    Service,
    ThreadJobQueue,
    b64,
    open_store,
    serving,
    submit,
    upload_body,
)
from tests.test_store import ManualClock

CLIENT = "127.0.0.1"  # httpx's ASGI transport calls from here


def entries_after(store: Store, last: int) -> list[AuditEntry]:
    """The entries written since the one with id ``last``, oldest first."""
    return sorted(
        (entry for entry in store.audit_entries(limit=None) if entry.id > last),
        key=lambda entry: entry.id,
    )


class AuditWatch:
    """Checks that each step of a test leaves exactly one entry, of the expected kind."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.last = max((entry.id for entry in store.audit_entries(limit=None)), default=0)

    def one(
        self, actor: str | None, action: AuditAction, target: str | None, **details: Any
    ) -> AuditEntry:
        new = entries_after(self.store, self.last)
        assert len(new) == 1, new
        (entry,) = new
        self.last = entry.id
        assert (entry.actor, entry.action, entry.target) == (actor, action.value, target)
        for key, value in details.items():
            assert entry.details[key] == value, entry
        return entry

    def none(self) -> None:
        assert entries_after(self.store, self.last) == []


def raw_rows(store: Store) -> list[str]:
    """Every row of the audit table as the database holds it, as text."""
    with store.database.engine.connect() as connection:
        return [repr(tuple(row)) for row in connection.execute(text("SELECT * FROM audit_log"))]


def assert_holds_no_token(store: Store, *tokens: str) -> None:
    rows = raw_rows(store)
    assert rows
    for token in tokens:
        assert len(token) >= 64
        assert not any(token in row for row in rows)


# The store ------------------------------------------------------------------------------------


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with Store.open(database_url, clock=ManualClock()) as opened:
        yield opened


def test_entries_come_newest_first_and_filter_by_user(store: Store) -> None:
    store.add_audit_entry("ann", AuditAction.LOGIN, "ann", {"access_token_ttl": 60}, "10.0.0.1")
    store.add_audit_entry(ADMIN_CLI, AuditAction.DISABLE_USER, "ann")
    store.add_audit_entry(None, AuditAction.LOGIN_FAILED, None, {"reason": "unknown API token"})
    store.add_audit_entry("bo", AuditAction.UPLOAD_PROGRAM, "p-1", {"name": "p"})
    newest_first = [entry.action for entry in store.audit_entries()]
    assert newest_first == ["upload-program", "login-failed", "disable-user", "login"]
    assert [entry.action for entry in store.audit_entries(limit=2)] == newest_first[:2]
    about_ann = store.audit_entries(user="ann")
    assert [(entry.actor, entry.action) for entry in about_ann] == [
        (ADMIN_CLI, "disable-user"),
        ("ann", "login"),
    ]
    login = about_ann[-1]
    assert login.details == {"access_token_ttl": 60}
    assert login.client == "10.0.0.1"
    assert login.time.tzinfo is not None
    assert store.audit_entries(user="nobody") == []


def test_a_database_made_before_the_audit_log_gets_it(database_url: str) -> None:
    database = Database(database_url)
    try:
        with database.write_connection() as connection:
            command.upgrade(alembic_config(connection), "0001")
            assert "audit_log" not in inspect(connection).get_table_names()
    finally:
        database.dispose()
    with Store.open(database_url) as store:
        with store.database.engine.connect() as connection:
            assert current_revision(connection) == head_revision()
        store.add_audit_entry(ADMIN_CLI, AuditAction.GRANT, "ann", {"instance": "lab/a/main"})
        assert [entry.target for entry in store.audit_entries()] == ["ann"]


# Over HTTP ------------------------------------------------------------------------------------


@pytest.fixture
async def service(
    tmp_path: Path, database_url: str, catalogue: BackendCatalogue
) -> AsyncIterator[Service]:
    store = open_store(database_url)
    events = JobEvents()
    queue = ThreadJobQueue(store, events, catalogue, tmp_path)
    queue.hold = True  # jobs are submitted, never run: what they do is not audited
    settings = Settings(data_dir=tmp_path / "data")
    async with serving(ServiceContext(settings, store, catalogue, queue, events)) as service:
        yield service
    queue.close()
    store.close()


async def login(service: Service, api_token: str) -> httpx.Response:
    return await service.client.post("/api/users/loginWithToken", json={"apiToken": api_token})


async def test_logins_and_logouts(service: Service) -> None:
    store = service.store
    watch = AuditWatch(store)
    api_token = service.user("ada", PREMIUM)
    watch.none()  # the test's own set-up is no audited action

    response = await login(service, api_token)
    access_token = response.json()["id"]
    entry = watch.one(
        "ada", AuditAction.LOGIN, "ada", access_token_ttl=service.settings.access_token_ttl
    )
    assert entry.client == CLIENT

    headers = {"X-Access-Token": access_token}
    assert (await service.client.post("/api/logout", headers=headers)).status_code == 204
    assert watch.one("ada", AuditAction.LOGOUT, "ada").client == CLIENT

    unknown = "0" * 128
    assert (await login(service, unknown)).status_code == 401
    watch.one(None, AuditAction.LOGIN_FAILED, None, reason="unknown API token")

    ada = store.user_by_name("ada")
    assert ada is not None
    store.disable_user(ada.id)
    assert (await login(service, api_token)).status_code == 401
    watch.one("ada", AuditAction.LOGIN_FAILED, "ada", reason="user disabled")
    store.disable_user(ada.id, disabled=False)
    store.revoke_api_token(api_token)
    assert (await login(service, api_token)).status_code == 401
    watch.one("ada", AuditAction.LOGIN_FAILED, "ada", reason="revoked API token")

    assert_holds_no_token(store, api_token, access_token, unknown)


async def test_program_changes(service: Service) -> None:
    store = service.store
    api_token = service.user("ada", PREMIUM)
    response = await login(service, api_token)
    access_token = response.json()["id"]
    headers = {"X-Access-Token": access_token}
    watch = AuditWatch(store)

    response = await service.client.post(
        "/runtime/programs", json=upload_body("audited"), headers=headers
    )
    program_id = response.json()["id"]
    watch.one("ada", AuditAction.UPLOAD_PROGRAM, program_id, name="audited", public=False)

    source = "def main(backend, user_messenger):\n    return 2\n"
    response = await service.client.put(
        f"/runtime/programs/{program_id}/data", content=b64(source), headers=headers
    )
    assert response.status_code == 204, response.text
    size = len(source.encode())
    watch.one("ada", AuditAction.UPDATE_PROGRAM, program_id, fields=["data"], source_bytes=size)

    response = await service.client.patch(
        f"/runtime/programs/{program_id}", json={"description": "new", "cost": 60}, headers=headers
    )
    assert response.status_code == 200, response.text
    watch.one("ada", AuditAction.UPDATE_PROGRAM, program_id, fields=["cost", "description"])

    for visibility, action in (
        ("public", AuditAction.MAKE_PROGRAM_PUBLIC),
        ("private", AuditAction.MAKE_PROGRAM_PRIVATE),
    ):
        path = f"/runtime/programs/{program_id}/{visibility}"
        assert (await service.client.put(path, headers=headers)).status_code == 204
        assert watch.one("ada", action, program_id).client == CLIENT

    # Jobs are not audited: submitting stays one write.
    assert (await submit(service, headers, program_id)).status_code == 200
    watch.none()

    response = await service.client.delete(f"/runtime/programs/{program_id}", headers=headers)
    assert response.status_code == 204
    watch.one("ada", AuditAction.DELETE_PROGRAM, program_id, name="audited")

    # A refused change is no change.
    response = await service.client.delete(f"/runtime/programs/{program_id}", headers=headers)
    assert response.status_code == 404
    watch.none()
    assert_holds_no_token(store, api_token, access_token)


# qruntime admin -------------------------------------------------------------------------------


def admin(database_url: str, data_dir: Path, *args: str) -> str:
    """Run a `qruntime admin` command in this process; its output."""
    done = CliRunner().invoke(
        cli_app, ["admin", *args, "--data-dir", str(data_dir), "--database-url", database_url]
    )
    assert done.exit_code == 0, done.output
    return done.output


def admin_process(database_url: str, data_dir: Path, *args: str) -> str:
    """Run a `qruntime admin` command as a process, with a console wide enough for tables."""
    done = subprocess.run(
        [
            *qruntime_command(),
            "admin",
            *args,
            "--data-dir",
            str(data_dir),
            "--database-url",
            database_url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "COLUMNS": "400"},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_every_admin_change_is_audited(database_url: str, tmp_path: Path) -> None:
    with Store.open(database_url) as store:
        watch = AuditWatch(store)
        first = admin(database_url, tmp_path, "create-user", "ann", "--instance", "lab/a/main")
        first_token = first.strip().splitlines()[-1]
        entry = watch.one(ADMIN_CLI, AuditAction.CREATE_USER, "ann", instances=["lab/a/main"])
        assert entry.details["admin"] is False
        assert entry.client is None

        admin(database_url, tmp_path, "create-instance", "lab/b/main", "--plan", "open")
        watch.one(ADMIN_CLI, AuditAction.CREATE_INSTANCE, "lab/b/main", plan="open", weight=1.0)
        admin(database_url, tmp_path, "set-instance", "lab/b/main", "--max-running", "2")
        entry = watch.one(ADMIN_CLI, AuditAction.SET_INSTANCE, "lab/b/main", max_running=2)
        assert set(entry.details) - {"os_user"} == {"max_running"}  # only what was changed
        admin(database_url, tmp_path, "grant", "ann", "lab/b/main")
        watch.one(ADMIN_CLI, AuditAction.GRANT, "ann", instance="lab/b/main")
        admin(database_url, tmp_path, "revoke", "ann", "lab/b/main")
        watch.one(ADMIN_CLI, AuditAction.REVOKE, "ann", instance="lab/b/main")
        admin(database_url, tmp_path, "disable-user", "ann")
        watch.one(ADMIN_CLI, AuditAction.DISABLE_USER, "ann")
        admin(database_url, tmp_path, "disable-user", "ann", "--enable")
        watch.one(ADMIN_CLI, AuditAction.ENABLE_USER, "ann")
        second = admin(database_url, tmp_path, "rotate-token", "ann")
        second_token = second.strip().splitlines()[-1]
        watch.one(ADMIN_CLI, AuditAction.ROTATE_TOKEN, "ann", revoked_tokens=1)

        admin(database_url, tmp_path, "users")
        watch.none()  # reading changes nothing
        assert_holds_no_token(store, first_token, second_token)

    shown = admin_process(database_url, tmp_path, "audit", "--user", "ann")
    lines = [line for line in shown.splitlines() if ADMIN_CLI in line]
    actions = [
        "rotate-token", "enable-user", "disable-user", "revoke", "grant", "create-user",
    ]  # fmt: skip
    assert len(lines) == len(actions)
    for line, action in zip(lines, actions, strict=True):
        assert f" {action} " in line
    assert first_token not in shown
    assert second_token not in shown

    newest = admin_process(database_url, tmp_path, "audit", "--limit", "1")
    assert "rotate-token" in newest
    assert "create-user" not in newest
