"""JobEvents delivers a job's interim results in order and ends every subscription."""

from __future__ import annotations

import asyncio

from qruntime.execution.events import InterimEvent, JobEnded, JobEvents, Subscription


async def collect(subscription: Subscription) -> list[object]:
    received: list[object] = []
    with subscription:
        async for event in subscription:
            received.append(event)
    return received


async def test_every_subscriber_gets_every_event_in_order() -> None:
    events = JobEvents()
    first = asyncio.create_task(collect(events.subscribe("job1")))
    second = asyncio.create_task(collect(events.subscribe("job1")))
    other = events.subscribe("job2")
    for seq in range(3):
        events.interim_result("job1", seq, f'{{"i": {seq}}}')
    events.job_ended("job1")
    expected = [*(InterimEvent(seq, f'{{"i": {seq}}}') for seq in range(3)), JobEnded()]
    assert await asyncio.wait_for(first, 5) == expected
    assert await asyncio.wait_for(second, 5) == expected
    assert events.subscriber_count("job1") == 0
    assert events.subscriber_count("job2") == 1
    other.close()
    assert events.subscriber_count("job2") == 0


async def test_closing_early_unsubscribes() -> None:
    events = JobEvents()
    subscription = events.subscribe("job")
    subscription.close()
    events.interim_result("job", 0, "x")
    assert events.subscriber_count("job") == 0
