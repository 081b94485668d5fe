"""Frames on the socket between the pool and a worker: a 4-byte length, then that many bytes.

The bytes are JSON (see :mod:`qruntime.execution.messages`); nothing on this socket is ever
pickled, because the worker runs programs the server must not trust. A length above the limit is
refused before anything is read, so a worker cannot make the server allocate at will.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading

from qruntime.errors import QRuntimeError

HEADER = struct.Struct("!I")
DEFAULT_MAX_FRAME_BYTES = 256 * 1024 * 1024
"""Largest frame either side accepts: room for big results, not for a runaway worker."""


class ChannelError(QRuntimeError):
    """The other side broke the framing: a frame too large, or the stream ended inside one."""


def frame(data: bytes) -> bytes:
    """``data`` with its length header in front."""
    return HEADER.pack(len(data)) + data


class WorkerChannel:
    """The worker's end: blocking reads and writes; ``send`` may be called from any thread."""

    def __init__(self, sock: socket.socket, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        self._sock = sock
        self._max = max_frame_bytes
        self._send_lock = threading.Lock()

    def send(self, data: bytes) -> None:
        """Write one frame (whole, even when several threads send at once)."""
        if len(data) > self._max:
            raise ChannelError(f"a frame of {len(data)} bytes exceeds the limit of {self._max}")
        with self._send_lock:
            self._sock.sendall(frame(data))

    def receive(self) -> bytes | None:
        """Read one frame; ``None`` when the pool closed its end between frames."""
        header = self._read_exactly(HEADER.size, allow_eof=True)
        if header is None:
            return None
        (size,) = HEADER.unpack(header)
        if size > self._max:
            raise ChannelError(f"a frame of {size} bytes exceeds the limit of {self._max}")
        data = self._read_exactly(size, allow_eof=False)
        assert data is not None
        return data

    def close(self) -> None:
        self._sock.close()

    def _read_exactly(self, size: int, *, allow_eof: bool) -> bytes | None:
        chunks = bytearray()
        while len(chunks) < size:
            chunk = self._sock.recv(size - len(chunks))
            if not chunk:
                if allow_eof and not chunks:
                    return None
                raise ChannelError("the stream ended inside a frame")
            chunks += chunk
        return bytes(chunks)


class PoolChannel:
    """The pool's end, on the event loop."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._max = max_frame_bytes

    @classmethod
    async def open(cls, sock: socket.socket, max_frame_bytes: int) -> PoolChannel:
        """Wrap the pool's end of a connected socket pair."""
        reader, writer = await asyncio.open_unix_connection(sock=sock)
        return cls(reader, writer, max_frame_bytes)

    async def send(self, data: bytes) -> None:
        """Write one frame and wait until the socket took it."""
        self._writer.write(frame(data))
        await self._writer.drain()

    async def receive(self) -> bytes | None:
        """Read one frame; ``None`` when the worker's end closed between frames."""
        try:
            header = await self._reader.readexactly(HEADER.size)
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                raise ChannelError("the stream ended inside a frame header") from exc
            return None
        except ConnectionError:
            # A killed worker's end can reset rather than close; either way nothing more comes.
            return None
        (size,) = HEADER.unpack(header)
        if size > self._max:
            raise ChannelError(f"a frame of {size} bytes exceeds the limit of {self._max}")
        try:
            return await self._reader.readexactly(size)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise ChannelError("the stream ended inside a frame") from exc

    def close(self) -> None:
        self._writer.close()
