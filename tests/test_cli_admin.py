"""``qruntime admin``: accounts, tokens, memberships and instances, through the real command."""

from __future__ import annotations

from pathlib import Path

from qruntime.store import Store
from tests.test_cli import assert_clean_error, qruntime


def admin(data_dir: Path, *args: str) -> str:
    done = qruntime("admin", *args, "--data-dir", str(data_dir))
    assert done.returncode == 0, done.stderr
    return done.stdout


def store_of(data_dir: Path) -> Store:
    return Store.open_in(data_dir)


def test_instances_memberships_and_limits(tmp_path: Path) -> None:
    admin(tmp_path, "create-user", "ann", "--instance", "lab/a/main")
    admin(tmp_path, "create-instance", "lab/b/main", "--plan", "open", "--weight", "3")
    admin(tmp_path, "grant", "ann", "lab/b/main")
    admin(tmp_path, "set-instance", "lab/b/main", "--max-running", "2", "--max-queued", "50")
    listing = admin(tmp_path, "users")
    assert "ann" in listing
    assert "lab/a/main, lab/b/main" in listing
    with store_of(tmp_path) as store:
        ann = store.user_by_name("ann")
        instance = store.get_instance("lab", "b", "main")
        assert ann is not None
        assert instance is not None
        assert (instance.plan, instance.weight) == ("open", 3.0)
        assert (instance.max_running, instance.max_queued) == (2, 50)
        assert store.is_member(ann.id, instance.id)
    admin(tmp_path, "set-instance", "lab/b/main", "--max-running", "none")
    admin(tmp_path, "revoke", "ann", "lab/b/main")
    with store_of(tmp_path) as store:
        instance = store.get_instance("lab", "b", "main")
        assert instance is not None
        assert instance.max_running is None
        assert instance.max_queued == 50
        assert not store.is_member(ann.id, instance.id)


def test_disabling_a_user_and_rotating_a_token(tmp_path: Path) -> None:
    first = admin(tmp_path, "create-user", "bo").strip().splitlines()[-1]
    second = admin(tmp_path, "rotate-token", "bo").strip().splitlines()[-1]
    with store_of(tmp_path) as store:
        assert store.user_by_api_token(first) is None  # the old token is revoked
        user = store.user_by_api_token(second)
        assert user is not None
        assert user.name == "bo"
    admin(tmp_path, "disable-user", "bo")
    with store_of(tmp_path) as store:
        assert store.user_by_api_token(second) is None
    admin(tmp_path, "disable-user", "bo", "--enable")
    with store_of(tmp_path) as store:
        assert store.user_by_api_token(second) is not None


def test_mistakes_are_named(tmp_path: Path) -> None:
    admin(tmp_path, "create-user", "cy")
    cases = [
        (("grant", "nobody", "ibm-q/open/main"), "no user 'nobody'", "cy"),
        (("grant", "cy", "lab/x/main"), "no instance 'lab/x/main'", "ibm-q/open/main"),
        (("set-instance", "lab/b"), "HUB/GROUP/PROJECT", "lab/b"),
        (("set-instance", "ibm-q/open/main", "--max-running", "0"), "at least 1", "none"),
        (("set-instance", "ibm-q/open/main", "--plan", "gold"), "gold", "premium"),
        (("create-instance", "ibm-q/open/main"), "exists", "set-instance"),
    ]
    for args, *words in cases:
        done = qruntime("admin", *args, "--data-dir", str(tmp_path))
        assert_clean_error(done, *words)
