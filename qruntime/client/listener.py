"""``Listener``: one WebSocket connection that only listens, driven by one thread.

The websockets library's threaded client reads in a thread of its own while the caller's thread
writes. On a TLS 1.3 connection the two can meet inside the one SSL object, and the upgrade
request is then never sent: about one connection in a thousand hung until its timeout. A job's
stream only listens, so here a single thread does all of the reading and writing, with
websockets' sans-I/O protocol; another thread may only :meth:`Listener.close` it, which shuts
the socket down and so wakes the reader.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import weakref
from collections.abc import Iterator, Mapping

from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import Event, State
from websockets.uri import parse_uri

ABNORMAL_CLOSURE = 1006
"""The close code of a connection that ended without a close frame."""
_RECEIVE_BYTES = 65536
_DATA = (Opcode.TEXT, Opcode.BINARY, Opcode.CONT)
_sessions: weakref.WeakKeyDictionary[ssl.SSLContext, dict[tuple[str, int], ssl.SSLSession]] = (
    weakref.WeakKeyDictionary()
)
"""TLS sessions to resume, per context (a session only works with its own) and server."""


class Listener:
    """Open with :meth:`open`, then iterate :meth:`messages` until the server closes.

    ``close_code`` and ``close_reason`` say how the connection ended.
    """

    def __init__(
        self,
        url: str,
        headers: Mapping[str, str],
        context: ssl.SSLContext | None,
        *,
        open_timeout: float = 10.0,
    ) -> None:
        self._uri = parse_uri(url)
        self._headers = dict(headers)
        self._context = context
        self._open_timeout = open_timeout
        self._protocol = ClientProtocol(self._uri, max_size=None)
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._early: list[Event] = []
        self._sessions: dict[tuple[str, int], ssl.SSLSession] | None = None
        self.close_code: int | None = None
        self.close_reason: str = ""

    def open(self) -> None:
        """Connect, and upgrade to a WebSocket; raises ``InvalidStatus`` (refused), another
        ``InvalidHandshake``, ``OSError`` or ``TimeoutError``."""
        sock = socket.create_connection((self._uri.host, self._uri.port), self._open_timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
            if self._uri.secure:
                context = self._context or ssl.create_default_context()
                self._sessions = _sessions.setdefault(context, {})
                sock = context.wrap_socket(
                    sock,
                    server_hostname=self._uri.host,
                    session=self._sessions.get((self._uri.host, self._uri.port)),
                )
            with self._lock:
                if self._closed:
                    raise OSError("the stream was closed while it connected")
                self._socket = sock
            request = self._protocol.connect()
            request.headers.update(self._headers)
            self._protocol.send_request(request)
            self._flush()
            while self._protocol.state is State.CONNECTING:
                self._receive()
                events = self._protocol.events_received()
                for index, event in enumerate(events):
                    if isinstance(event, Response):
                        if self._protocol.handshake_exc is not None:
                            raise self._protocol.handshake_exc
                        # Frames that came in the same read as the upgrade's answer.
                        self._early = events[index + 1 :]
            if self._protocol.state is State.CLOSED and not self._early:
                raise OSError("the connection closed during the upgrade")
            sock.settimeout(None)
        except BaseException:
            self._release()
            sock.close()
            raise

    def messages(self) -> Iterator[str]:
        """Each text (or UTF-8 binary) message, until the connection ends."""
        parts: list[bytes] = []
        events, self._early = self._early, []
        try:
            while True:
                for event in events:
                    if isinstance(event, Frame) and event.opcode in _DATA:
                        parts.append(bytes(event.data))
                        if event.fin:
                            message, parts = b"".join(parts), []
                            yield message.decode("utf-8")
                if self._protocol.close_expected() or self._protocol.state is State.CLOSED:
                    break
                try:
                    self._receive()
                except OSError:
                    break  # shut down by close(), or the connection broke
                events = self._protocol.events_received()
            received = self._protocol.close_rcvd
            self.close_code = ABNORMAL_CLOSURE if received is None else received.code
            self.close_reason = "" if received is None else received.reason
        finally:
            self._release()

    def close(self) -> None:
        """End the connection, from any thread: the reader's iteration ends."""
        with self._lock:
            self._closed = True
            sock = self._socket
        if sock is not None:
            # The plain socket's shutdown, not SSLSocket's, which would drop the SSL object
            # under the reader's feet; the reader then sees the end and releases the socket.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def _release(self) -> None:
        with self._lock:
            self._closed = True
            sock, self._socket = self._socket, None
        if sock is not None:
            if isinstance(sock, ssl.SSLSocket) and self._sessions is not None and sock.session:
                # The next stream to this server resumes this TLS session: no certificate to
                # send, sign and verify again.
                self._sessions[(self._uri.host, self._uri.port)] = sock.session
            sock.close()

    def _receive(self) -> None:
        sock = self._socket
        if sock is None:
            raise OSError("the stream is closed")
        data = sock.recv(_RECEIVE_BYTES)
        if data:
            self._protocol.receive_data(data)
        else:
            self._protocol.receive_eof()
        self._flush()

    def _flush(self) -> None:
        sock = self._socket
        for data in self._protocol.data_to_send():
            if sock is None:
                return
            if data:
                sock.sendall(data)
            else:  # the protocol's end of stream: half-close
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_WR)
