"""A TCP proxy that delays traffic both ways: a wide-area link, on loopback.

Every chunk read from one side is written to the other ``delay`` seconds after it arrived, in the
order it arrived; reading goes on meanwhile, so the link keeps its bandwidth and only gains
latency. It forwards bytes and nothing else, so TLS, HTTP keep-alive and WebSockets pass through
untouched (the client verifies the server's certificate as if it were connected directly).

A new connection also pays the round trip of TCP's handshake: on a real link a client sends its
first byte one round trip after it asked to connect, while on loopback ``connect`` returns at once.
So the client's first bytes reach the server no sooner than three one-way delays after the
connection was accepted.

The proxy counts what the link costs: connections, and *flights* — runs of client-to-server data
that follow data from the server (or open a connection). A flight that waits for an answer costs a
round trip, so a request/response protocol pays ``flights + connections`` round trips.

``DelayProxy`` runs on an asyncio loop; :func:`running_proxy` runs one in a background thread for
synchronous callers.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

CHUNK_BYTES = 65536


@dataclass(frozen=True)
class LinkStats:
    """What passed the proxy: connections, client flights (see the module) and bytes each way."""

    connections: int = 0
    flights: int = 0
    bytes_up: int = 0
    bytes_down: int = 0

    def __sub__(self, before: LinkStats) -> LinkStats:
        return LinkStats(
            self.connections - before.connections,
            self.flights - before.flights,
            self.bytes_up - before.bytes_up,
            self.bytes_down - before.bytes_down,
        )


class DelayProxy:
    """Listens on ``host:port`` (0: a free port) and forwards to ``target_host:target_port``.

    Args:
        delay: seconds each chunk is held, in each direction.
        connect_round_trip: hold a new connection's first client bytes one round trip more,
            as TCP's handshake would.
    """

    def __init__(
        self,
        target_host: str,
        target_port: int,
        delay: float,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        connect_round_trip: bool = True,
    ) -> None:
        if delay < 0:
            raise ValueError(f"delay must be at least 0 seconds, not {delay}")
        self.target = (target_host, target_port)
        self.delay = delay
        self.connect_round_trip = connect_round_trip
        self._listen = (host, port)
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._stats = LinkStats()

    @property
    def stats(self) -> LinkStats:
        """The counts so far (a snapshot: subtract two to measure a stretch of traffic)."""
        return self._stats

    @property
    def port(self) -> int:
        """The port the proxy listens on."""
        if self._server is None:
            raise RuntimeError("the proxy is not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        """Start listening."""
        host, port = self._listen
        self._server = await asyncio.start_server(self._accept, host, port)

    async def close(self) -> None:
        """Stop listening and cut every open connection."""
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def _count(self, **added: int) -> None:
        current = self._stats
        self._stats = replace(
            current, **{name: getattr(current, name) + value for name, value in added.items()}
        )

    async def _accept(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._connect(client_in, client_out)
        except asyncio.CancelledError:
            pass  # cut by close(); asyncio would report the handler's cancellation as an error
        finally:
            self._connections.discard(task)

    async def _connect(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        loop = asyncio.get_running_loop()
        accepted = loop.time()
        self._count(connections=1)
        try:
            server_in, server_out = await asyncio.open_connection(*self.target)
        except OSError:
            client_out.close()
            return
        first_byte_due = accepted + (3 * self.delay if self.connect_round_trip else 0.0)
        answered = [True]  # whether the server spoke since the client's last bytes

        def upstream(size: int) -> None:
            if answered[0]:
                self._count(flights=1)
                answered[0] = False
            self._count(bytes_up=size)

        def downstream(size: int) -> None:
            answered[0] = True
            self._count(bytes_down=size)

        try:
            await asyncio.gather(
                self._forward(client_in, server_out, upstream, first_byte_due),
                self._forward(server_in, client_out, downstream, accepted),
            )
        finally:
            for writer in (client_out, server_out):
                writer.close()
            for writer in (client_out, server_out):
                with contextlib.suppress(OSError, asyncio.CancelledError):
                    await writer.wait_closed()

    async def _forward(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        seen: Callable[[int], None],
        not_before: float,
    ) -> None:
        """Copy ``source`` to ``sink``, each chunk ``delay`` after it arrived; then end ``sink``."""
        loop = asyncio.get_running_loop()
        held: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def receive() -> None:
            try:
                while chunk := await source.read(CHUNK_BYTES):
                    seen(len(chunk))
                    held.put_nowait((loop.time() + self.delay, chunk))
            except OSError:
                pass
            held.put_nowait((loop.time() + self.delay, b""))

        async def send() -> None:
            while True:
                due, chunk = await held.get()
                wait = max(due, not_before) - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not chunk:
                    break
                sink.write(chunk)
                await sink.drain()
            if sink.can_write_eof():
                sink.write_eof()

        receiving = asyncio.create_task(receive())
        try:
            await send()
        except OSError:
            pass
        finally:
            receiving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiving


class ProxyThread:
    """A :class:`DelayProxy` on an event loop of its own thread; see :func:`running_proxy`."""

    def __init__(self, proxy: DelayProxy) -> None:
        self.proxy = proxy
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="delay-proxy", daemon=True)
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._stop: asyncio.Event | None = None

    @property
    def port(self) -> int:
        """The port the proxy listens on."""
        return self.proxy.port

    @property
    def stats(self) -> LinkStats:
        """The proxy's counts so far."""
        return self.proxy.stats

    def start(self) -> None:
        """Start the thread; return once the proxy listens (or raise why it could not)."""
        self._thread.start()
        self._started.wait()
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        """Close the proxy and end the thread."""
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        try:
            await self.proxy.start()
        except BaseException as error:
            self._error = error
            self._started.set()
            return
        self._started.set()
        try:
            await self._stop.wait()
        finally:
            await self.proxy.close()


@contextlib.contextmanager
def running_proxy(
    target_host: str, target_port: int, delay: float, *, connect_round_trip: bool = True
) -> Iterator[ProxyThread]:
    """A :class:`DelayProxy` to ``target_host:target_port``, running in a thread while inside."""
    running = ProxyThread(
        DelayProxy(target_host, target_port, delay, connect_round_trip=connect_round_trip)
    )
    running.start()
    try:
        yield running
    finally:
        running.stop()
