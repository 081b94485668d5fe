"""Interim results stored in batches while a write is under way, in order, streams told after."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from qruntime.execution.events import InterimEvent, JobEvents
from qruntime.execution.interim import InterimWriter
from qruntime.programs import builtin_programs
from qruntime.store import Store
from qruntime.store.output import AddedInterimResults
from qruntime.store.records import Plan


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'qruntime.db'}", max_interim_results=30) as opened:
        from qruntime.service import register_builtin_programs

        register_builtin_programs(opened)
        yield opened


def _job_id(store: Store) -> str:
    user, _token = store.create_user("ada")
    instance = store.ensure_instance("lab", "group", "main", plan=Plan.PREMIUM)
    store.add_membership(user.id, instance.id)
    assert "hello-world" in builtin_programs()
    job = store.create_job(
        program_id="hello-world",
        instance_id=instance.id,
        backend="ibmq_qasm_simulator",
        owner_id=user.id,
        params="{}",
    )
    return job.id


async def test_results_arriving_during_a_write_go_in_one_batch(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = _job_id(store)
    batches: list[list[str]] = []
    add = store.add_interim_results

    def counting(job: str, payloads: list[str]) -> AddedInterimResults:
        batches.append(list(payloads))
        return add(job, payloads)

    monkeypatch.setattr(store, "add_interim_results", counting)
    events = JobEvents()
    subscription = events.subscribe(job_id)
    writer = InterimWriter(store, events, job_id)
    payloads = [f'{{"step": {step}}}' for step in range(20)]
    await writer.add(payloads[0])
    await asyncio.sleep(0)  # the write starts, in a thread; the loop runs on meanwhile
    for payload in payloads[1:]:
        await writer.add(payload)  # returns at once: nothing waits for the store here
    await writer.flush()

    assert [payload for batch in batches for payload in batch] == payloads
    assert batches == [payloads[:1], payloads[1:]]  # the rest arrived during the first write
    assert writer.count == 20
    assert [(r.seq, r.payload) for r in store.interim_results(job_id)] == list(
        enumerate(payloads)
    )
    told = [subscription._queue.get_nowait() for _ in range(20)]
    assert told == [InterimEvent(seq, payload) for seq, payload in enumerate(payloads)]


async def test_past_the_cap_the_rest_is_refused_and_logged(store: Store) -> None:
    job_id = _job_id(store)
    writer = InterimWriter(store, JobEvents(), job_id)
    await asyncio.gather(*(writer.add(f"{step}") for step in range(35)))
    await writer.flush()
    assert writer.count == 30
    assert [r.payload for r in store.interim_results(job_id)] == [f"{s}" for s in range(30)]
    assert "more than 30 interim results" in store.job_log(job_id)
