"""Capturing what a program prints and logs into its job's log, within a size cap.

While a job runs, ``sys.stdout``, ``sys.stderr`` and the root logger write into a
:class:`LogBuffer`, which hands complete lines on as log events. Past the cap the rest is dropped
and one marker line says so. Afterwards the streams, the root logger's handlers and its level are
put back as they were, so nothing a program configured outlives its job.
"""

from __future__ import annotations

import io
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

LogSink = Callable[[str], None]

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_CHUNK = 8192  # hand on at least this much even without a newline: one huge line stays bounded


class LogBuffer:
    """Collects a job's log text, caps it at ``cap_bytes`` (UTF-8) and sends it in chunks."""

    def __init__(self, sink: LogSink, cap_bytes: int) -> None:
        self._sink = sink
        self._cap = cap_bytes
        self._used = 0
        self._pending = ""
        self.truncated = False
        self.closed = False
        # Programs may print from their own threads.
        self._lock = threading.RLock()

    def write(self, text: str) -> None:
        """Add ``text``; complete lines are sent now, a partial line waits for its end."""
        if not text:
            return
        with self._lock:
            if self.truncated or self.closed:
                return
            size = len(text.encode("utf-8", "surrogatepass"))
            if self._used + size > self._cap:
                room = self._cap - self._used
                text = text.encode("utf-8", "surrogatepass")[:room].decode("utf-8", "ignore")
                self._append(text)
                self._append(f"\n[qruntime: log output truncated at {self._cap} bytes]\n")
                self.truncated = True
                self.flush()
                return
            self._used += size
            self._append(text)
            if len(self._pending) >= _CHUNK:
                self.flush()
            elif "\n" in text:
                cut = self._pending.rfind("\n") + 1
                self._sink(self._pending[:cut])
                self._pending = self._pending[cut:]

    def note(self, text: str) -> None:
        """Add a line from qruntime itself (not counted against the cap, never dropped)."""
        with self._lock:
            if not self.closed:
                self._append(f"[qruntime: {text}]\n")
                self.flush()

    def flush(self) -> None:
        """Send whatever is waiting, partial line included."""
        with self._lock:
            if self._pending:
                text, self._pending = self._pending, ""
                self._sink(text)

    def close(self) -> None:
        """Send what is waiting and drop everything written later.

        A handler or thread a program left behind may still write after its job ended; that text
        must not reach the next job's log.
        """
        with self._lock:
            self.flush()
            self.closed = True

    def _append(self, text: str) -> None:
        self._pending += text


class CapturedStream(io.TextIOBase):
    """A text stream (in place of ``sys.stdout`` or ``sys.stderr``) that writes into a buffer."""

    def __init__(self, buffer: LogBuffer) -> None:
        super().__init__()
        self._buffer = buffer

    encoding = "utf-8"

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self._buffer.write(text)
        return len(text)

    def isatty(self) -> bool:
        return False


class CaptureHandler(logging.Handler):
    """A logging handler that formats records into a buffer."""

    def __init__(self, buffer: LogBuffer) -> None:
        super().__init__()
        self._buffer = buffer
        self.setFormatter(logging.Formatter(LOG_FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._buffer.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


@contextmanager
def captured_output(buffer: LogBuffer) -> Iterator[None]:
    """Send stdout, stderr and root-logger records into ``buffer`` for the ``with`` block.

    The root logger keeps its level (WARNING unless configured), so a program's INFO records
    appear once it raises its own logger's level, and Qiskit's INFO chatter stays out.
    """
    root = logging.getLogger()
    saved_streams = sys.stdout, sys.stderr
    saved_handlers, saved_level = root.handlers[:], root.level
    root.handlers = [CaptureHandler(buffer)]
    sys.stdout = CapturedStream(buffer)
    sys.stderr = CapturedStream(buffer)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved_streams
        root.handlers = saved_handlers
        root.setLevel(saved_level)
        buffer.close()
