"""Who is calling: the access-token lookup the API does on every request, remembered briefly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.requests import Request

from qruntime.server.errors import Unauthorized
from qruntime.server.routes.auth import CALLER_TTL_SECONDS, Callers
from qruntime.store import Plan, Store


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open_in(tmp_path) as store:
        yield store


def request_with(token: str) -> Request:
    return Request({"type": "http", "headers": [(b"x-access-token", token.encode())]})


async def test_the_caller_comes_with_their_instances(store: Store) -> None:
    user, _ = store.create_user("ada")
    lab = store.ensure_instance("lab", "physics", "qc", plan=Plan.PREMIUM)
    store.add_membership(user.id, lab.id)
    token = store.create_access_token(user.id, ttl_seconds=60)
    caller = await Callers(store).authenticate(request_with(token))
    assert caller.user.name == "ada"
    assert [instance.name for instance in caller.instances] == ["lab/physics/qc"]


async def test_a_token_revoked_elsewhere_is_refused_once_the_moment_passes(store: Store) -> None:
    user, _ = store.create_user("ada")
    token = store.create_access_token(user.id, ttl_seconds=60)
    clock = Clock()
    callers = Callers(store, clock=clock)
    assert (await callers.authenticate(request_with(token))).user.id == user.id
    store.revoke_access_token(token)  # as the admin CLI would, from another process
    clock.now += CALLER_TTL_SECONDS / 2
    assert (await callers.authenticate(request_with(token))).user.id == user.id
    clock.now += CALLER_TTL_SECONDS
    with pytest.raises(Unauthorized, match="unknown, expired or revoked"):
        await callers.authenticate(request_with(token))


async def test_a_token_forgotten_here_is_refused_at_once(store: Store) -> None:
    user, _ = store.create_user("ada")
    token = store.create_access_token(user.id, ttl_seconds=60)
    callers = Callers(store, clock=Clock())
    await callers.authenticate(request_with(token))
    store.revoke_access_token(token)
    callers.forget(token)
    with pytest.raises(Unauthorized):
        await callers.authenticate(request_with(token))


async def test_no_token_and_an_unknown_token_are_refused(store: Store) -> None:
    callers = Callers(store)
    with pytest.raises(Unauthorized, match="Missing access token"):
        await callers.authenticate(Request({"type": "http", "headers": []}))
    with pytest.raises(Unauthorized, match="Invalid access token"):
        await callers.authenticate(request_with("f" * 64))
