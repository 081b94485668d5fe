"""benchmarks/io_overhead.py: the delaying proxy, and the benchmark's paths on a real server."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterator

import pytest

from benchmarks import io_overhead, vqe_paths
from benchmarks.delay_proxy import DelayProxy, ProxyThread, running_proxy
from qruntime import RuntimeProvider
from tests.conftest import LiveServer

DELAY = 0.05


async def greet_then_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Say hello, then send back every byte until the client ends its side."""
    writer.write(b"hello\n")
    await writer.drain()
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()


@pytest.fixture
async def echo_port() -> AsyncIterator[int]:
    server = await asyncio.start_server(greet_then_echo, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


@pytest.fixture
async def proxy(echo_port: int) -> AsyncIterator[DelayProxy]:
    proxy = DelayProxy("127.0.0.1", echo_port, DELAY)
    await proxy.start()
    yield proxy
    await proxy.close()


async def test_the_server_speaks_through_the_proxy_after_the_delay(proxy: DelayProxy) -> None:
    loop = asyncio.get_running_loop()
    begin = loop.time()
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    assert await asyncio.wait_for(reader.readline(), 10) == b"hello\n"
    assert loop.time() - begin >= DELAY
    writer.close()


async def test_data_passes_both_ways_in_order_each_way_delayed(proxy: DelayProxy) -> None:
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    assert await asyncio.wait_for(reader.readline(), 10) == b"hello\n"
    messages = [f"message {number};".encode() for number in range(200)]
    payload = os.urandom(3 * 65536 + 17)  # several chunks
    begin = loop.time()
    for message in messages:
        writer.write(message)
        await writer.drain()
    writer.write(payload)
    await writer.drain()
    expected = b"".join(messages) + payload
    echoed = await asyncio.wait_for(reader.readexactly(len(expected)), 10)
    assert loop.time() - begin >= 2 * DELAY  # up and back down
    assert echoed == expected
    writer.write_eof()  # the end passes through too: the echo server closes, and so do we
    assert await asyncio.wait_for(reader.read(), 10) == b""
    writer.close()
    stats = proxy.stats
    assert stats.connections == 1
    assert stats.bytes_up == len(expected)
    assert stats.bytes_down == len(expected) + len(b"hello\n")


async def test_each_request_after_an_answer_is_a_round_trip(proxy: DelayProxy) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    await asyncio.wait_for(reader.readline(), 10)
    for request in (b"one\n", b"two\n", b"three\n"):
        writer.write(request)
        await writer.drain()
        assert await asyncio.wait_for(reader.readline(), 10) == request
    writer.close()
    assert proxy.stats.flights == 3
    assert proxy.stats.connections == 1


async def test_a_new_connection_pays_a_handshake_round_trip(echo_port: int) -> None:
    """The first client bytes reach the server three one-way delays after connecting."""
    loop = asyncio.get_running_loop()
    for handshake, least in ((True, 4 * DELAY), (False, 2 * DELAY)):
        proxy = DelayProxy("127.0.0.1", echo_port, DELAY, connect_round_trip=handshake)
        await proxy.start()
        try:
            begin = loop.time()
            reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            writer.write(b"ping\n")
            await writer.drain()
            assert await asyncio.wait_for(reader.readline(), 10) == b"hello\n"
            assert await asyncio.wait_for(reader.readline(), 10) == b"ping\n"
            assert loop.time() - begin >= least
            writer.close()
        finally:
            await proxy.close()


def test_a_negative_delay_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 0"):
        DelayProxy("127.0.0.1", 1, -0.01)


# -- the benchmark's paths, 3 iterations, on a real server ---------------------------------------


@pytest.fixture(scope="module")
def links(live_server: LiveServer) -> Iterator[list[io_overhead.Link]]:
    """Loopback, and through the proxy (a short delay: TLS and WebSockets must pass)."""
    with contextlib.ExitStack() as stack:
        host, port = live_server.url.removeprefix("https://").split(":")
        delayed: ProxyThread = stack.enter_context(running_proxy(host, int(port), 0.005))
        urls = [live_server.url, f"https://{host}:{delayed.port}"]
        providers = [
            stack.enter_context(RuntimeProvider(url, live_server.token, live_server.certfile))
            for url in urls
        ]
        yield [
            io_overhead.Link("loopback", providers[0], None),
            io_overhead.Link("5 ms each way", providers[1], delayed),
        ]


def test_both_paths_run_the_same_vqe(
    links: list[io_overhead.Link], capsys: pytest.CaptureFixture[str]
) -> None:
    """The vqe job and the client loop end at the same energy (the same circuits and seeds),
    one circuit-runner job per batch; the in-process replay runs the same batches."""
    problem = vqe_paths.Problem(iterations=3)
    for link in links:
        link.jobs.append(vqe_paths.run_vqe_job(link.provider, problem, link.proxy))
        link.loops.append(vqe_paths.run_client_loop(link.provider, problem, link.proxy))
    measured = vqe_paths.measure_in_process(problem)

    energies = {job.energy for link in links for job in link.jobs}
    energies |= {loop.energy for link in links for loop in link.loops}
    assert energies == {measured.energy}
    job, loop = links[1].jobs[0], links[1].loops[0]
    assert job.batches == problem.iterations + 1  # SPSA's calibration and one per step
    assert len(loop.jobs) == problem.iterations + 2  # and the final evaluation
    assert [timing.circuits for timing in loop.jobs[:-1]] == measured.circuits
    assert measured.circuits[1:] == [2 * 3] * problem.iterations  # ± points, 3 groups
    assert all(timing.aer > 0 and timing.wait > 0 for timing in loop.jobs)
    assert len(measured.aer) == len(measured.aer_bound) == job.batches
    assert job.link is not None
    assert job.link.connections >= 1
    assert loop.link is not None
    assert loop.link.connections >= len(loop.jobs)  # a result stream for each job

    io_overhead.report(problem, links, [measured], 0.005)
    printed = capsys.readouterr().out
    assert "(b)/(a)" in printed
    assert printed.count(f"{measured.energy:.4f}") == 4  # (a) and (b) on both links
