"""How fast a user may submit jobs and upload programs: the token bucket, its 429 with
Retry-After over HTTP, and the ``qruntime serve`` options that set it."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from qruntime.backends import BackendCatalogue
from qruntime.cli import app as cli_app
from qruntime.execution.events import JobEvents
from qruntime.server.context import ServiceContext
from qruntime.server.errors import TooManyRequests
from qruntime.server.ratelimit import SubmissionRateLimit
from qruntime.settings import DEFAULT_RATE_BURST, DEFAULT_RATE_LIMIT, Settings
from tests.test_server_routes import (
    PREMIUM,
    Service,
    ThreadJobQueue,
    error_of,
    open_store,
    serving,
    submit,
    upload_body,
)

RATE = 0.5  # a token every 2 s: nothing refills while a test makes its burst
BURST = 3


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# The bucket -----------------------------------------------------------------------------------


def test_a_burst_goes_through_then_the_rate_holds() -> None:
    clock = Clock()
    limit = SubmissionRateLimit(2.0, 3, clock=clock)
    assert [limit.wait_before(1) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limit.wait_before(1) == pytest.approx(0.5)  # one token back in 1 / 2 s
    clock.now += 0.25
    assert limit.wait_before(1) == pytest.approx(0.25)
    clock.now += 0.25
    assert limit.wait_before(1) == 0.0
    assert limit.wait_before(1) > 0
    clock.now += 100  # a long pause refills to the burst, no further
    assert [limit.wait_before(1) for _ in range(4)][-1] > 0


def test_users_have_buckets_of_their_own() -> None:
    limit = SubmissionRateLimit(1.0, 1, clock=Clock())
    assert limit.wait_before(1) == 0.0
    assert limit.wait_before(1) > 0
    assert limit.wait_before(2) == 0.0


def test_the_refusal_says_the_rate_and_whole_seconds_to_wait() -> None:
    limit = SubmissionRateLimit(0.4, 1, clock=Clock())
    limit.check(7)
    with pytest.raises(TooManyRequests) as refused:
        limit.check(7)
    assert refused.value.retry_after == math.ceil(1 / 0.4) == 3
    assert refused.value.headers == {"Retry-After": "3"}
    assert "0.4 per second" in str(refused.value)
    assert "bursts of up to 1" in str(refused.value)
    assert "Try again in 3 seconds" in str(refused.value)
    fast = SubmissionRateLimit(1000.0, 1, clock=Clock())
    fast.check(7)
    with pytest.raises(TooManyRequests) as soon:
        fast.check(7)
    assert soon.value.retry_after == 1  # never 0, whatever the rate


def test_no_rate_means_no_limit() -> None:
    limit = SubmissionRateLimit(None, 1, clock=Clock())
    assert not limit.enabled
    for _ in range(10_000):
        limit.check(1)


def test_the_defaults_let_the_service_benchmark_through() -> None:
    """``benchmarks/service.py``: about 210 jobs one after another, then 2000 from one user at
    about 120 a second."""
    clock = Clock()
    limit = SubmissionRateLimit(DEFAULT_RATE_LIMIT, DEFAULT_RATE_BURST, clock=clock)
    for _ in range(210):
        limit.check(1)
        clock.now += 0.015
    for _ in range(2000):
        limit.check(1)
        clock.now += 1 / 120


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        SubmissionRateLimit(0, 1)
    with pytest.raises(ValueError, match="at least 1"):
        SubmissionRateLimit(1.0, 0)


# Over HTTP ------------------------------------------------------------------------------------


@pytest.fixture
def limited(tmp_path: Path, catalogue: BackendCatalogue) -> Iterator[ServiceContext]:
    store = open_store(f"sqlite:///{tmp_path / 'qruntime.db'}")
    events = JobEvents()
    queue = ThreadJobQueue(store, events, catalogue, tmp_path)
    queue.hold = True  # jobs wait at their gate: submitting is all these tests do
    settings = Settings(data_dir=tmp_path / "data", rate_limit=RATE, rate_burst=BURST)
    yield ServiceContext(settings, store, catalogue, queue, events)
    queue.close()
    store.close()


@pytest.fixture
async def service(limited: ServiceContext) -> AsyncIterator[Service]:
    async with serving(limited) as service:
        yield service


def retry_after(response: httpx.Response) -> int:
    message = error_of(response, 429)
    assert f"{RATE:g} per second" in message
    assert f"bursts of up to {BURST}" in message
    seconds = int(response.headers["Retry-After"])
    assert seconds >= 1
    assert f"Try again in {seconds} second" in message
    return seconds


async def test_past_the_burst_a_user_gets_429_and_others_do_not(service: Service) -> None:
    ada = await service.login_user("ada", PREMIUM)
    bo = await service.login_user("bo", PREMIUM)
    answers = [(await submit(service, ada)).status_code for _ in range(BURST + 2)]
    assert answers == [200] * BURST + [429, 429]
    retry_after(await submit(service, ada))
    # Uploads draw on the same allowance.
    upload = await service.client.post("/runtime/programs", json=upload_body("p"), headers=ada)
    retry_after(upload)
    assert (await submit(service, bo)).status_code == 200
    response = await service.client.post("/runtime/programs", json=upload_body("p"), headers=bo)
    assert response.status_code == 201, response.text


async def test_after_waiting_retry_after_the_user_may_submit_again(service: Service) -> None:
    ada = await service.login_user("ada", PREMIUM)
    for _ in range(BURST):
        assert (await submit(service, ada)).status_code == 200
    wait = retry_after(await submit(service, ada))
    # Retry-After rounds the wait for a token up: once it has passed, a token is back.
    await asyncio.sleep(wait)
    response = await submit(service, ada)
    assert response.status_code == 200, response.text


async def test_refused_submissions_store_nothing(service: Service) -> None:
    ada = await service.login_user("ada", PREMIUM)
    for _ in range(BURST + 3):
        await submit(service, ada)
    _, total = service.store.list_jobs(limit=0)
    assert total == BURST


# qruntime serve -------------------------------------------------------------------------------


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[Settings]:
    """The settings `qruntime serve` would run with, instead of running it."""
    import qruntime.service

    seen: list[Settings] = []

    def serve(settings: Settings, announce: Any) -> None:
        seen.append(settings)

    monkeypatch.setattr(qruntime.service, "serve", serve)
    return seen


@pytest.mark.parametrize(
    ("options", "rate", "burst", "interim"),
    [
        ((), DEFAULT_RATE_LIMIT, DEFAULT_RATE_BURST, 10_000),
        (("--rate-limit", "2.5", "--rate-burst", "7"), 2.5, 7, 10_000),
        (("--rate-limit", "none", "--max-interim-results", "none"), None, DEFAULT_RATE_BURST, None),
        (("--max-interim-results", "5"), DEFAULT_RATE_LIMIT, DEFAULT_RATE_BURST, 5),
    ],
)
def test_serve_options_set_the_limits(
    served: list[Settings],
    tmp_path: Path,
    options: tuple[str, ...],
    rate: float | None,
    burst: int,
    interim: int | None,
) -> None:
    done = CliRunner().invoke(cli_app, ["serve", "--data-dir", str(tmp_path), *options])
    assert done.exit_code == 0, done.output
    (settings,) = served
    assert (settings.rate_limit, settings.rate_burst) == (rate, burst)
    assert settings.max_interim_results == interim


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (("--rate-limit", "0"), "positive number or 'none'"),
        (("--rate-limit", "fast"), "positive number or 'none'"),
        (("--rate-burst", "0"), "greater than or equal to 1"),
        (("--max-interim-results", "-1"), "positive number or 'none'"),
    ],
)
def test_serve_refuses_bad_limits(
    served: list[Settings], tmp_path: Path, options: tuple[str, ...], words: str
) -> None:
    done = CliRunner().invoke(cli_app, ["serve", "--data-dir", str(tmp_path), *options])
    assert done.exit_code == 2
    assert words in " ".join(done.output.replace("│", " ").split())  # out of rich's box
    assert served == []
