"""The store, against SQLite and PostgreSQL alike.

Every test that takes ``store`` runs twice: on a SQLite file and on a fresh PostgreSQL schema.
PostgreSQL is found at ``$QRUNTIME_TEST_POSTGRES_URL`` (default: the local server, user
``postgres``); where it cannot be reached those runs are skipped, unless
``QRUNTIME_REQUIRE_POSTGRES=1`` (as in CI), which makes them fail.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from qruntime.errors import InputError
from qruntime.status import RAN_TOO_LONG, JobStatus
from qruntime.store import (
    OPEN_INSTANCE,
    RESTART_REASON,
    Conflict,
    Instance,
    InterimResult,
    InvalidTransition,
    Job,
    LimitExceeded,
    NotFound,
    Plan,
    Store,
    User,
    normalize_url,
    parse_instance,
)
from qruntime.store.migrate import current_revision, head_revision
from qruntime.store.models import Base
from qruntime.store.output import truncation_mark

START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class ManualClock:
    """A clock that moves only when told, plus one microsecond per reading so that rows
    created one after another get distinct, increasing timestamps."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            self.now += timedelta(microseconds=1)
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += timedelta(seconds=seconds)


# Databases ------------------------------------------------------------------------------------


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(database_url: str, clock: ManualClock) -> Iterator[Store]:
    with Store.open(database_url, clock=clock) as opened:
        yield opened


@pytest.fixture
def alice(store: Store) -> User:
    user, _token = store.create_user("alice")
    return user


@pytest.fixture
def premium(store: Store, alice: User) -> Instance:
    instance = store.ensure_instance("lab", "physics", "vqe", plan=Plan.PREMIUM)
    store.add_membership(alice.id, instance.id)
    return instance


MakeJob = Callable[..., Job]


@pytest.fixture
def make_job(store: Store, alice: User, premium: Instance) -> MakeJob:
    """Create a job (alice's, in the premium instance, unless told otherwise)."""

    def make(**fields: Any) -> Job:
        values: dict[str, Any] = {
            "program_id": "hello-world",
            "instance_id": premium.id,
            "backend": "ibmq_qasm_simulator",
            "owner_id": alice.id,
            "params": '{"iterations": 2}',
        }
        values.update(fields)
        return store.create_job(**values)

    return make


def _drive(store: Store, job: Job, status: JobStatus) -> Job:
    """Move a new job to ``status`` by legal steps."""
    if status is JobStatus.QUEUED:
        return job
    if status in (JobStatus.RUNNING, JobStatus.COMPLETED):
        job = store.transition(job.id, JobStatus.RUNNING)
    if status is JobStatus.RUNNING:
        return job
    return store.transition(job.id, status)


def _run_together(*actions: Callable[[], Any]) -> list[Any]:
    """Run the actions in threads released at the same moment; return each one's result or
    the exception it raised."""
    barrier = threading.Barrier(len(actions))
    outcomes: list[Any] = [None] * len(actions)

    def run(index: int) -> None:
        barrier.wait()
        try:
            outcomes[index] = actions[index]()
        except Exception as exc:
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(actions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


# Schema ---------------------------------------------------------------------------------------


def test_migrations_build_the_schema_and_a_second_open_changes_nothing(
    database_url: str,
) -> None:
    with Store.open(database_url) as store:
        first = store.list_instances()
        with store.database.engine.connect() as connection:
            assert current_revision(connection) == head_revision()
            # The hand-written migration and the models describe the same schema.
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
            tables = set(inspect(connection).get_table_names())
    assert set(Base.metadata.tables) <= tables
    with Store.open(database_url) as store:
        assert store.list_instances() == first


def test_stores_opened_at_the_same_moment_both_work(database_url: str) -> None:
    stores = _run_together(lambda: Store.open(database_url), lambda: Store.open(database_url))
    try:
        assert all(isinstance(store, Store) for store in stores), stores
        assert [i.name for i in stores[0].list_instances()] == ["ibm-q/open/main"]
    finally:
        for store in stores:
            if isinstance(store, Store):
                store.close()


def test_open_main_exists_with_plan_open(store: Store) -> None:
    instance = store.get_instance(*OPEN_INSTANCE)
    assert instance is not None
    assert (instance.name, instance.plan, instance.weight) == ("ibm-q/open/main", Plan.OPEN, 1.0)


def test_database_urls() -> None:
    assert normalize_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    for bad in ("sqlite://", "sqlite:///:memory:", "mysql://u@h/db", "not a url"):
        with pytest.raises(InputError):
            normalize_url(bad)


# Users and tokens -----------------------------------------------------------------------------


def test_tokens_are_stored_only_as_hashes(store: Store, database_url: str) -> None:
    user, api_token = store.create_user("bob")
    second_api_token = store.issue_api_token(user.id)
    access_token = store.create_access_token(user.id, ttl_seconds=3600)
    engine = create_engine(normalize_url(database_url))
    try:
        with engine.connect() as connection:
            dump: list[str] = []
            for table in Base.metadata.sorted_tables:
                rows = connection.execute(text(f'SELECT * FROM "{table.name}"'))
                dump.extend(str(value) for row in rows for value in row)
    finally:
        engine.dispose()
    everything = "\n".join(dump)
    for token in (api_token, second_api_token, access_token):
        assert len(token) >= 64  # 256 bits or more, hex
        assert token not in everything
    assert [info.prefix for info in store.api_tokens_of(user.id)] == [
        api_token[:8],
        second_api_token[:8],
    ]


def test_api_tokens_revoked_or_of_disabled_users_are_refused(store: Store) -> None:
    user, token = store.create_user("carol", is_admin=True)
    assert store.user_by_api_token(token) == user
    assert store.user_by_api_token(token + "0") is None
    other = store.issue_api_token(user.id)
    store.revoke_api_token(store.api_tokens_of(user.id)[0].id)
    assert store.user_by_api_token(token) is None
    assert store.user_by_api_token(other) == user
    third = store.issue_api_token(user.id)
    store.revoke_api_token(third)
    assert store.user_by_api_token(third) is None
    assert [info.revoked is not None for info in store.api_tokens_of(user.id)] == [
        True,
        False,
        True,
    ]
    with pytest.raises(NotFound):
        store.revoke_api_token("no such token")
    store.disable_user(user.id)
    assert store.user_by_api_token(other) is None
    store.disable_user(user.id, disabled=False)
    assert store.user_by_api_token(other) is not None


def test_access_tokens_expire_and_can_be_revoked(store: Store, clock: ManualClock) -> None:
    user, _ = store.create_user("dave")
    token = store.create_access_token(user.id, ttl_seconds=60)
    assert store.user_by_access_token(token) == user
    clock.advance(59)
    assert store.user_by_access_token(token) == user
    clock.advance(1)
    assert store.user_by_access_token(token) is None
    assert store.user_by_access_token(store.create_access_token(user.id, ttl_seconds=0)) is None
    live = store.create_access_token(user.id, ttl_seconds=60)
    assert store.revoke_access_token(live) is True
    assert store.revoke_access_token(live) is False
    assert store.user_by_access_token(live) is None
    before = clock.now
    kept = store.create_access_token(user.id, ttl_seconds=60)
    after = clock.now
    assert store.purge_expired_access_tokens() == 3
    assert store.user_by_access_token(kept) == user
    access = store.access(kept)
    assert access is not None
    assert access.user == user
    assert before < access.expires_at - timedelta(seconds=60) <= after


def test_whose_api_token_a_refused_login_used(store: Store) -> None:
    user, token = store.create_user("erin")
    assert store.api_token_holder(token) == (user, False)
    store.revoke_api_token(token)
    assert store.api_token_holder(token) == (user, True)
    assert store.api_token_holder("0" * 128) is None


def test_user_names_are_unique(store: Store) -> None:
    store.create_user("erin")
    with pytest.raises(Conflict, match="erin"):
        store.create_user("erin")
    assert [user.name for user in store.list_users()] == ["erin"]
    assert store.user_by_name("erin") is not None
    with pytest.raises(NotFound):
        store.get_user(999)


# Instances ------------------------------------------------------------------------------------


def test_instances_and_memberships(store: Store, alice: User) -> None:
    created = store.ensure_instance("lab", "chem", "qaoa")
    assert (created.plan, created.max_queued) == (Plan.OPEN, None)
    again = store.ensure_instance("lab", "chem", "qaoa", plan="premium", weight=2.5)
    assert (again.id, again.plan, again.weight) == (created.id, Plan.PREMIUM, 2.5)
    changed = store.set_instance(created.id, max_queued=3, max_running=1)
    assert (changed.plan, changed.max_queued, changed.max_running) == (Plan.PREMIUM, 3, 1)
    assert store.set_instance(created.id, max_queued=None).max_queued is None

    main = store.get_instance(*OPEN_INSTANCE)
    assert main is not None
    store.add_membership(alice.id, created.id)
    store.add_membership(alice.id, created.id)
    store.add_membership(alice.id, main.id)
    assert [i.name for i in store.instances_of(alice.id)] == ["ibm-q/open/main", "lab/chem/qaoa"]
    assert store.remove_membership(alice.id, main.id) is True
    assert store.remove_membership(alice.id, main.id) is False
    assert [i.id for i in store.instances_of(alice.id)] == [created.id]
    assert store.is_member(alice.id, created.id)

    for bad in ({"plan": "gold"}, {"weight": 0.0}, {"max_running": -1}):
        with pytest.raises(InputError):
            store.set_instance(created.id, **bad)
    with pytest.raises(NotFound):
        store.add_membership(alice.id, 12345)
    assert parse_instance("ibm-q/open/main") == OPEN_INSTANCE
    with pytest.raises(InputError):
        parse_instance("ibm-q/open")


# Programs -------------------------------------------------------------------------------------


def test_program_visibility_and_pagination(store: Store, alice: User) -> None:
    bob, _ = store.create_user("bob")
    builtin = store.upsert_builtin_program(
        "hello-world", name="hello-world", source="def main(): ...", spec={"parameters": {}}
    )
    assert (builtin.is_builtin, builtin.is_public) == (True, True)
    mine = [
        store.create_program(name=f"mine {i}", source="...", owner_id=alice.id) for i in range(3)
    ]
    shared = store.create_program(name="shared", source="...", owner_id=bob.id, is_public=True)
    store.create_program(name="bob's secret", source="...", owner_id=bob.id)
    assert mine[0].id.startswith("mine-0-")
    assert len(mine[0].id) == len("mine-0-") + 10

    page, total = store.list_programs(alice.id, limit=2, offset=1)
    assert total == 5  # hello-world, three of alice's, bob's public one
    assert [p.id for p in page] == [mine[0].id, mine[1].id]
    page, total = store.list_programs(alice.id, limit=10, offset=4)
    assert ([p.id for p in page], total) == ([shared.id], 5)
    public, total = store.list_programs(alice.id, include_private_of_owner=False)
    assert ([p.id for p in public], total) == (["hello-world", shared.id], 2)
    assert store.list_programs(None)[1] == 6

    store.set_program_visibility(mine[0].id, public=True)
    assert store.list_programs(bob.id)[1] == 4
    store.delete_program(mine[0].id)
    with pytest.raises(NotFound):
        store.get_program(mine[0].id)
    with pytest.raises(Conflict):
        store.create_program(name="x", source="", owner_id=alice.id, program_id=shared.id)


def test_program_updates_and_builtin_refresh(store: Store, alice: User, clock: ManualClock) -> None:
    program = store.create_program(
        name="vqe", source="v1", owner_id=alice.id, spec={"parameters": {"type": "object"}}
    )
    clock.advance(10)
    updated = store.update_program(program.id, source="v2", max_execution_time=600)
    assert (updated.source, updated.max_execution_time, updated.name) == ("v2", 600, "vqe")
    assert updated.spec == program.spec
    assert updated.updated > program.updated == program.created
    with pytest.raises(InputError):
        store.update_program(program.id, max_execution_time=0)

    fields: dict[str, Any] = {"name": "sampler", "source": "s", "spec": {}}
    first = store.upsert_builtin_program("sampler", **fields)
    clock.advance(10)
    assert store.upsert_builtin_program("sampler", **fields) == first
    refreshed = store.upsert_builtin_program("sampler", **{**fields, "source": "s2"})
    assert (refreshed.source, refreshed.created) == ("s2", first.created)
    assert refreshed.updated > first.updated
    with pytest.raises(Conflict):
        store.upsert_builtin_program(program.id, **fields)


# Jobs -----------------------------------------------------------------------------------------


def test_job_lifecycle(store: Store, make_job: MakeJob, clock: ManualClock) -> None:
    job = make_job(tags=["a", "b", "a"], log_level="DEBUG", max_execution_time=60)
    assert job.status is JobStatus.QUEUED
    assert (job.instance_name, job.tags, job.params) == (
        "lab/physics/vqe",
        ("a", "b"),
        '{"iterations": 2}',
    )
    assert len(job.id) == 20
    assert job.id.isalnum()
    assert job.id == job.id.lower()
    assert job.created.tzinfo is UTC
    assert job.started is None
    assert store.get_job(job.id) == job
    assert store.job_result(job.id).result is None

    clock.advance(5)
    running = store.transition(job.id, JobStatus.RUNNING, expected_from=JobStatus.QUEUED)
    assert running.status is JobStatus.RUNNING
    assert running.started is not None
    assert running.started - job.created >= timedelta(seconds=5)
    clock.advance(7)
    done = store.transition(job.id, JobStatus.COMPLETED, result='{"answer": 42}')
    assert done.finished is not None
    assert done.started is not None
    assert done.finished - done.started >= timedelta(seconds=7)
    outcome = store.job_result(job.id)
    assert (outcome.status, outcome.result, outcome.error) == (
        JobStatus.COMPLETED,
        '{"answer": 42}',
        None,
    )

    slow = store.transition(make_job().id, JobStatus.RUNNING)
    cancelled = store.transition(
        slow.id, JobStatus.CANCELLED, reason=RAN_TOO_LONG, error="ran longer than 60 s"
    )
    assert (cancelled.reason, store.job_result(slow.id).error) == (
        RAN_TOO_LONG,
        "ran longer than 60 s",
    )
    session = make_job(start_session=True)
    assert session.session_id == session.id
    with pytest.raises(NotFound):
        store.get_job("nope")


def test_every_illegal_transition_raises_and_changes_nothing(
    store: Store, make_job: MakeJob
) -> None:
    illegal = [(a, b) for a in JobStatus for b in JobStatus if not a.can_become(b)]
    assert len(illegal) == 25 - 6  # QUEUED -> RUNNING, FAILED, CANCELLED; RUNNING -> the 3 ends
    for start, end in illegal:
        job = _drive(store, make_job(), start)
        with pytest.raises(InvalidTransition) as raised:
            store.transition(job.id, end, result="x")
        assert (raised.value.current, raised.value.requested) == (start, end)
        assert store.get_job(job.id) == job
        assert store.job_result(job.id).result is None
    queued = make_job()
    with pytest.raises(InvalidTransition, match="expected to be RUNNING"):
        store.transition(queued.id, JobStatus.CANCELLED, expected_from=JobStatus.RUNNING)
    with pytest.raises(NotFound):
        store.transition("nope", JobStatus.RUNNING)


@pytest.mark.parametrize(
    "rivals",
    [
        (JobStatus.RUNNING, JobStatus.CANCELLED),
        (JobStatus.RUNNING, JobStatus.RUNNING, JobStatus.RUNNING, JobStatus.RUNNING),
    ],
    ids=["start-vs-cancel", "four-starters"],
)
def test_racing_transitions_have_exactly_one_winner(
    store: Store, make_job: MakeJob, rivals: tuple[JobStatus, ...]
) -> None:
    for _round in range(5):
        job = make_job()
        outcomes = _run_together(
            *(
                lambda to=to, job_id=job.id: store.transition(
                    job_id, to, expected_from=JobStatus.QUEUED
                )
                for to in rivals
            )
        )
        winners = [o for o in outcomes if isinstance(o, Job)]
        losers = [o for o in outcomes if not isinstance(o, Job)]
        assert len(winners) == 1, outcomes
        assert all(isinstance(o, InvalidTransition) for o in losers), outcomes
        assert store.get_job(job.id).status is winners[0].status


def test_queued_and_running_jobs_in_creation_order(store: Store, make_job: MakeJob) -> None:
    jobs = [make_job() for _ in range(4)]
    store.transition(jobs[1].id, JobStatus.RUNNING)
    store.transition(jobs[3].id, JobStatus.RUNNING)
    assert [j.id for j in store.queued_jobs()] == [jobs[0].id, jobs[2].id]
    assert [j.id for j in store.queued_jobs(limit=1)] == [jobs[0].id]
    assert [j.id for j in store.running_jobs()] == [jobs[1].id, jobs[3].id]


def test_recover_after_restart_fails_running_jobs_only(store: Store, make_job: MakeJob) -> None:
    queued, running, done = make_job(), make_job(), make_job()
    store.transition(running.id, JobStatus.RUNNING)
    _drive(store, done, JobStatus.COMPLETED)
    changed = store.recover_after_restart()
    assert [j.id for j in changed] == [running.id]
    assert (changed[0].status, changed[0].reason) == (JobStatus.FAILED, RESTART_REASON)
    assert changed[0].finished is not None
    assert store.get_job(queued.id).status is JobStatus.QUEUED
    assert store.get_job(done.id).status is JobStatus.COMPLETED
    assert store.recover_after_restart() == []


def test_list_jobs_filters_with_exact_counts(
    store: Store, make_job: MakeJob, alice: User, premium: Instance, clock: ManualClock
) -> None:
    bob, _ = store.create_user("bob")
    other = store.ensure_instance("lab", "physics", "qaoa")
    a = make_job(tags=["x", "y"])
    b = make_job(backend="ibmq_bogota", tags=["x"])
    clock.advance(60)
    middle = clock()
    clock.advance(60)
    c = make_job(program_id="sampler", session_id="s1")
    d = make_job(owner_id=bob.id, instance_id=other.id)
    _drive(store, a, JobStatus.COMPLETED)
    store.transition(b.id, JobStatus.RUNNING)

    def ids(**filters: Any) -> tuple[list[str], int]:
        jobs, total = store.list_jobs(**filters)
        return [j.id for j in jobs], total

    assert ids() == ([d.id, c.id, b.id, a.id], 4)
    assert ids(descending=False, limit=2, offset=1) == ([b.id, c.id], 4)
    assert ids(limit=1, offset=3) == ([a.id], 4)
    assert ids(limit=2, offset=10) == ([], 4)
    assert ids(instance_ids=[premium.id]) == ([c.id, b.id, a.id], 3)
    assert ids(instance_ids=[]) == ([], 0)
    assert ids(owner_id=bob.id) == ([d.id], 1)
    assert ids(owner_id=alice.id, instance_ids=[other.id]) == ([], 0)
    assert ids(pending=True) == ([d.id, c.id, b.id], 3)
    assert ids(pending=False) == ([a.id], 1)
    assert ids(program_id="sampler") == ([c.id], 1)
    assert ids(backend="ibmq_bogota") == ([b.id], 1)
    assert ids(tags=["x"]) == ([b.id, a.id], 2)
    assert ids(tags=["x", "y"]) == ([a.id], 1)
    assert ids(tags=["z"]) == ([], 0)
    assert ids(session_id="s1") == ([c.id], 1)
    assert ids(created_after=middle) == ([d.id, c.id], 2)
    assert ids(created_before=middle, limit=1) == ([b.id], 2)
    assert ids(pending=True, created_after=middle, instance_ids=[premium.id]) == ([c.id], 1)


def test_max_queued_limits_an_instances_queue(
    store: Store, make_job: MakeJob, premium: Instance
) -> None:
    store.set_instance(premium.id, max_queued=2)
    first, _second = make_job(), make_job()
    with pytest.raises(LimitExceeded, match="max_queued"):
        make_job()
    store.transition(first.id, JobStatus.RUNNING)
    make_job()


def test_delete_job_removes_its_output(store: Store, make_job: MakeJob) -> None:
    job = make_job(tags=["t"])
    store.add_interim_result(job.id, "{}")
    store.append_log(job.id, "line\n")
    store.delete_job(job.id)
    with pytest.raises(NotFound):
        store.interim_results(job.id)
    with pytest.raises(NotFound):
        store.delete_job(job.id)
    assert store.list_jobs(tags=["t"]) == ([], 0)


def test_runtime_since_counts_the_overlap_with_the_window(
    store: Store, make_job: MakeJob, premium: Instance, clock: ManualClock
) -> None:
    other = store.ensure_instance("lab", "physics", "qaoa")
    early = store.transition(make_job().id, JobStatus.RUNNING)  # runs 100 s, half before since
    clock.advance(50)
    since = clock.now
    clock.advance(50)
    store.transition(early.id, JobStatus.COMPLETED)
    store.transition(make_job().id, JobStatus.CANCELLED)  # never ran
    running = store.transition(make_job(instance_id=other.id).id, JobStatus.RUNNING)
    clock.advance(30)
    usage = store.runtime_since([premium.id, other.id, 999], since)
    assert usage[premium.id] == pytest.approx(50, abs=0.01)
    assert usage[other.id] == pytest.approx(30, abs=0.01)
    assert usage[999] == 0
    later = clock.now + timedelta(seconds=100)
    assert store.runtime_since([other.id], since, until=later)[other.id] == pytest.approx(
        130, abs=0.01
    )
    assert running.started is not None
    assert store.runtime_since([other.id], running.started - timedelta(hours=1)) == {
        other.id: pytest.approx(30, abs=0.01)
    }


# Interim results and logs ---------------------------------------------------------------------


def test_interim_results_numbered_in_order_under_concurrent_writers(
    store: Store, make_job: MakeJob
) -> None:
    job = make_job()
    writers, each = 4, 15

    def publish(writer: int) -> list[int]:
        return [store.add_interim_result(job.id, f"{writer}:{i}") for i in range(each)]

    seqs = _run_together(*(lambda w=w: publish(w) for w in range(writers)))
    assert all(isinstance(s, list) for s in seqs), seqs
    assert sorted(seq for own in seqs for seq in own) == list(range(writers * each))
    results = store.interim_results(job.id)
    assert [r.seq for r in results] == list(range(writers * each))
    for writer, own in enumerate(seqs):
        assert own == sorted(own)
        assert [r.payload for r in results if r.seq in own] == [
            f"{writer}:{i}" for i in range(each)
        ]
    assert store.interim_results(job.id, after_seq=writers * each - 2) == [results[-1]]
    assert isinstance(results[0], InterimResult)


def test_interim_results_cap(database_url: str, make_job: MakeJob, store: Store) -> None:
    job = make_job()
    with Store.open(database_url, max_interim_results=2) as capped:
        assert [capped.add_interim_result(job.id, p) for p in ("a", "b")] == [0, 1]
        with pytest.raises(LimitExceeded, match="2 interim results"):
            capped.add_interim_result(job.id, "c")
    assert store.add_interim_result(job.id, "c") == 2
    assert [r.payload for r in store.interim_results(job.id)] == ["a", "b", "c"]
    with pytest.raises(NotFound):
        store.add_interim_result("nope", "x")


def test_an_interim_result_over_the_size_limit_is_refused(store: Store, make_job: MakeJob) -> None:
    job = make_job()
    largest = "x" * store.max_interim_result_bytes
    assert store.add_interim_result(job.id, largest) == 0
    with pytest.raises(LimitExceeded, match=f"at most {store.max_interim_result_bytes} bytes"):
        store.add_interim_result(job.id, largest + "x")
    assert store.add_interim_result(job.id, "small") == 1  # nothing of the refused one counts
    assert [r.payload for r in store.interim_results(job.id)] == [largest, "small"]


def test_log_keeps_the_first_part_and_marks_truncation_once(
    store: Store, make_job: MakeJob
) -> None:
    job = make_job()
    assert store.job_log(job.id) == ""
    assert store.append_log(job.id, "0123456789\n", cap_bytes=20) is True
    assert store.append_log(job.id, "abcdefghij\n", cap_bytes=20) is False
    assert store.append_log(job.id, "more\n", cap_bytes=20) is False
    assert store.job_log(job.id) == "0123456789\nabcdefghi\n" + truncation_mark(20)
    assert truncation_mark(20) == "... [log truncated at 20 bytes]\n"

    accented = make_job()
    store.append_log(accented.id, "é" * 5, cap_bytes=5)  # 10 bytes; a cut inside "é" is moved
    assert store.job_log(accented.id) == "éé\n" + truncation_mark(5)

    exact = make_job()
    store.append_log(exact.id, "12345\n", cap_bytes=6)
    store.append_log(exact.id, "x", cap_bytes=6)
    assert store.job_log(exact.id) == "12345\n" + truncation_mark(6)
    with pytest.raises(NotFound):
        store.append_log("nope", "x")


def test_timestamps_are_utc_and_naive_ones_are_refused(
    database_url: str, make_job: MakeJob, store: Store
) -> None:
    job = make_job()
    assert job.created.tzinfo is UTC
    assert START < job.created < START + timedelta(seconds=1)
    paris_summer = timezone(timedelta(hours=2))
    just_before = (job.created - timedelta(microseconds=1)).astimezone(paris_summer)
    assert store.list_jobs(created_after=just_before)[1] == 1
    assert store.list_jobs(created_after=job.created.astimezone(paris_summer))[1] == 0
    with pytest.raises(InputError, match="tz-aware"):
        store.list_jobs(created_after=datetime(2024, 1, 1))
    naive_clock = ManualClock(START.replace(tzinfo=None))
    with (
        Store.open(database_url, clock=naive_clock) as naive,
        pytest.raises(ValueError, match="tz-aware"),
    ):
        naive.create_user("zed")
