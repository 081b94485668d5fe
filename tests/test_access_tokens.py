"""Access tokens over HTTP: refused once past their ttl, and at once after a logout, even
though the server remembers callers for a moment."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from qruntime.backends import BackendCatalogue
from qruntime.execution.events import JobEvents
from qruntime.server.context import ServiceContext
from qruntime.server.errors import Unauthorized
from qruntime.server.routes.auth import Callers
from qruntime.service import register_builtin_programs
from qruntime.settings import Settings
from qruntime.store import Store
from tests.test_callers import Clock, request_with
from tests.test_server_routes import PREMIUM, Service, ThreadJobQueue, error_of, serving
from tests.test_store import ManualClock

TTL = 600
WAIT_S = 30.0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def service(
    tmp_path: Path, database_url: str, catalogue: BackendCatalogue, clock: ManualClock
) -> AsyncIterator[Service]:
    """The API over a store whose clock moves only when a test says so."""
    store = Store.open(database_url, clock=clock)
    register_builtin_programs(store)
    events = JobEvents()
    queue = ThreadJobQueue(store, events, catalogue, tmp_path)
    settings = Settings(data_dir=tmp_path / "data", access_token_ttl=TTL)
    async with serving(ServiceContext(settings, store, catalogue, queue, events)) as service:
        yield service
    queue.close()
    store.close()


async def calls_work(service: Service, headers: dict[str, str]) -> None:
    for path in ("/api/users/me", "/api/Network", "/runtime/programs", "/runtime/jobs"):
        response = await service.client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.text)


async def calls_are_refused(service: Service, headers: dict[str, str]) -> None:
    for path in ("/api/users/me", "/api/Network", "/runtime/programs", "/runtime/jobs"):
        message = error_of(await service.client.get(path, headers=headers), 401)
        assert "unknown, expired or revoked" in message
        assert "loginWithToken" in message


async def test_an_access_token_past_its_ttl_is_401(service: Service, clock: ManualClock) -> None:
    api_token = service.user("ada", PREMIUM)
    response = await service.client.post("/api/users/loginWithToken", json={"apiToken": api_token})
    assert response.json()["ttl"] == TTL
    headers = {"X-Access-Token": response.json()["id"]}
    await calls_work(service, headers)  # the server now remembers the caller
    clock.advance(TTL - 1)
    await calls_work(service, headers)
    clock.advance(2)
    await calls_are_refused(service, headers)
    # A new login gives a token that works.
    await calls_work(service, await service.login(api_token))


async def test_logout_takes_effect_at_once(service: Service) -> None:
    api_token = service.user("ada", PREMIUM)
    headers = await service.login(api_token)
    other = await service.login(api_token)
    await calls_work(service, headers)
    assert (await service.client.post("/api/logout", headers=headers)).status_code == 204
    await calls_are_refused(service, headers)
    error_of(await service.client.post("/api/logout", headers=headers), 401)
    await calls_work(service, other)  # the user's other logins go on


async def test_a_lookup_overtaken_by_a_logout_is_not_remembered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request that was reading the token while the logout happened is answered, but the
    token is not remembered as live from it."""
    with Store.open_in(tmp_path) as store:
        user, _ = store.create_user("ada")
        token = store.create_access_token(user.id, ttl_seconds=TTL)
        callers = Callers(store, clock=Clock())  # nothing expires by the clock
        read, go_on = threading.Event(), threading.Event()
        access = store.access

        def slow_access(access_token: str) -> object:
            found = access(access_token)  # still live: the logout has not happened yet
            read.set()
            go_on.wait(WAIT_S)
            return found

        monkeypatch.setattr(store, "access", slow_access)
        lookup = asyncio.ensure_future(callers.authenticate(request_with(token)))
        assert await asyncio.to_thread(read.wait, WAIT_S)
        store.revoke_access_token(token)  # the logout, as the route does it
        callers.forget(token)
        go_on.set()
        assert (await lookup).user.id == user.id
        monkeypatch.undo()
        with pytest.raises(Unauthorized):
            await callers.authenticate(request_with(token))


async def test_the_remembered_caller_never_outlives_its_token(tmp_path: Path) -> None:
    clock = ManualClock()
    with Store.open_in(tmp_path, clock=clock) as store:
        user, _ = store.create_user("ada")
        token = store.create_access_token(user.id, ttl_seconds=5)
        callers = Callers(store, clock=Clock())  # the memory itself never expires here
        assert (await callers.authenticate(request_with(token))).user.id == user.id
        clock.advance(6)
        with pytest.raises(Unauthorized, match="expired"):
            await callers.authenticate(request_with(token))
