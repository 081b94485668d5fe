"""``ResultStream``: a job's WebSocket (``/stream/jobs/{id}``), followed in the background.

The protocol, as IBM's service spoke it: the first frame after every (re)connect is an
acknowledgement and is dropped; every later text frame is one interim result (and, last, the
final result); the server closes with 1000 once the job is final. Any other end of the connection
is retried with backoff. Each new connection replays the job's messages from the first, so the
stream skips as many as it already delivered: a callback sees every message once, in order.

Messages are handed to the callback by a second thread, so a slow callback never stalls the
socket (and its keep-alive pings).

qruntime's server also says, in the reason of the 1000 close, ``COMPLETED`` when the job completed
and the last message was its final result; ``ResultStream.final_result`` then holds it, and the
job needs no further request for its status or result.
"""

from __future__ import annotations

import enum
import logging
import queue
import ssl
import threading
from collections.abc import Callable
from typing import Final

from websockets.exceptions import InvalidHandshake, InvalidStatus

from qruntime.client.listener import Listener

logger = logging.getLogger(__name__)

MAX_RETRIES = 5
_NORMAL_CLOSURE = 1000
_RESULT_SENT = "COMPLETED"
_REFUSAL_BASE = 4000
"""A refusal closes with 4000 + the HTTP status it means: 4401 bad token, 4404 no such job."""
_END: Final = object()


class StreamOutcome(enum.Enum):
    """How a stream ended."""

    CLOSED = "closed"
    """The server closed with 1000: the job is final and every message was delivered."""
    FAILED = "failed"
    """The connection could not be (re)established; ``ResultStream.error`` says why."""
    CANCELLED = "cancelled"
    """The client stopped following the job."""


class ResultStream:
    """Follow one job's WebSocket in background threads; ``on_message`` gets each raw message.

    ``headers`` is called at each connect, so a refreshed access token is used on reconnects;
    ``reauthenticate`` is called once if the upgrade is refused with 401.
    """

    def __init__(
        self,
        url: str,
        headers: Callable[[], dict[str, str]],
        context: ssl.SSLContext | None,
        on_message: Callable[[str], None] | None = None,
        *,
        reauthenticate: Callable[[], None] | None = None,
        max_retries: int = MAX_RETRIES,
    ) -> None:
        self.url = url
        self._headers = headers
        self._context = context if url.lower().startswith("wss:") else None
        self._on_message = on_message
        self._reauthenticate = reauthenticate
        self._max_retries = max_retries
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._cancelled = threading.Event()
        self._reader_done = threading.Event()
        self._finished = threading.Event()
        self._connection: Listener | None = None
        self._reader = threading.Thread(target=self._follow, name=f"qruntime-stream {url}")
        self._reader.daemon = True
        self._dispatcher: threading.Thread | None = None
        if on_message is not None:
            self._dispatcher = threading.Thread(target=self._dispatch, name="qruntime-callback")
            self._dispatcher.daemon = True
        self.outcome: StreamOutcome | None = None
        self.error: str | None = None
        self.final_result: str | None = None
        """The job's final result, when the server said the last message was that."""

    def start(self) -> ResultStream:
        """Start following the socket; returns ``self``."""
        if self._dispatcher is not None:
            self._dispatcher.start()
        self._reader.start()
        return self

    @property
    def running(self) -> bool:
        """Whether the stream has not finished yet."""
        return not self._finished.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the stream ended and its messages were delivered; ``False`` on timeout."""
        if threading.current_thread() is self._dispatcher:
            # Called from inside the callback: the delivery being waited for is this very call.
            return self._reader_done.wait(timeout)
        return self._finished.wait(timeout)

    def cancel(self) -> None:
        """Stop following the job; messages not yet delivered are dropped."""
        self._cancelled.set()
        connection = self._connection
        if connection is not None:
            connection.close()

    def _follow(self) -> None:
        received = 0  # messages after the ACK, over all connections
        failures = 0
        reauthenticated = False
        try:
            while not self._cancelled.is_set():
                code, fresh, refusal = None, False, None
                try:
                    code, received, fresh = self._connect_once(received)
                    if code is not None and 4400 <= code < 4500:
                        refusal = code - _REFUSAL_BASE
                except InvalidStatus as exc:
                    refusal, self.error = exc.response.status_code, str(exc)
                except (InvalidHandshake, OSError) as exc:
                    self.error = str(exc) or type(exc).__name__
                if self._cancelled.is_set():
                    break
                if code == _NORMAL_CLOSURE:
                    self._end(StreamOutcome.CLOSED)
                    return
                if refusal == 401 and self._reauthenticate and not reauthenticated:
                    reauthenticated = True
                    self._reauthenticate()
                    continue
                if refusal is not None and 400 <= refusal < 500:
                    # Asking again gets the same answer: the token, the access or the job is wrong.
                    self._end(StreamOutcome.FAILED, f"the server refused the stream: {self.error}")
                    return
                failures = 1 if fresh else failures + 1
                if failures > self._max_retries:
                    logger.warning(
                        "giving up on %s after %d retries: %s", self.url, failures - 1, self.error
                    )
                    self._end(StreamOutcome.FAILED, self.error)
                    return
                self._cancelled.wait(min(8.0, 0.5 * 2 ** (failures - 1)))
            self._end(StreamOutcome.CANCELLED)
        except BaseException as exc:  # a stream must always end, or waiters would hang
            self._end(StreamOutcome.FAILED, f"{type(exc).__name__}: {exc}")
            raise

    def _connect_once(self, received: int) -> tuple[int | None, int, bool]:
        """One connection: returns (close code, messages received in all, whether any were new)."""
        fresh = False
        connection = Listener(self.url, self._headers(), self._context, open_timeout=10)
        self._connection = connection
        try:
            if self._cancelled.is_set():
                return None, received, fresh
            connection.open()
            seen = -1  # the first message is the acknowledgement
            last: str | None = None
            for message in connection.messages():
                seen += 1
                if seen == 0:
                    continue
                last = message
                if seen <= received:
                    continue  # replayed: delivered on an earlier connection
                received += 1
                fresh = True
                self._queue.put(message)
        finally:
            self._connection = None
            connection.close()
        code = connection.close_code
        if code != _NORMAL_CLOSURE:
            self.error = f"closed with {code}: {connection.close_reason or 'no reason given'}"
        elif connection.close_reason == _RESULT_SENT:
            self.final_result = last
        return code, received, fresh

    def _end(self, outcome: StreamOutcome, error: str | None = None) -> None:
        if self.outcome is None:
            self.outcome = outcome
            if error is not None:
                self.error = error
        self._reader_done.set()
        if self._dispatcher is None:
            self._finished.set()
        else:
            self._queue.put(_END)

    def _dispatch(self) -> None:
        assert self._on_message is not None
        try:
            while (item := self._queue.get()) is not _END:
                if self._cancelled.is_set():
                    continue
                try:
                    self._on_message(str(item))
                except Exception:
                    logger.exception(
                        "the result callback raised for %s; streaming goes on", self.url
                    )
        finally:
            self._finished.set()
