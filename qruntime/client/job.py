"""``RuntimeJob``: the live handle of one job on the service."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from dateutil import parser as date_parser
from qiskit.providers import JobStatus

from qruntime.client.decoder import Decoder, ResultDecoder, decode_with
from qruntime.client.errors import (
    RuntimeClientError,
    RuntimeInvalidStateError,
    RuntimeJobFailureError,
    RuntimeJobMaxTimeoutError,
    RuntimeJobTimeoutError,
)
from qruntime.client.stream import ResultStream, StreamOutcome
from qruntime.serialization import decode_inputs
from qruntime.status import JobStatus as ServiceStatus

if TYPE_CHECKING:
    from qruntime.client.api import RuntimeClient

logger = logging.getLogger(__name__)

ResultCallback = Callable[[str, Any], None]
"""``callback(job_id, message)``: called with each interim result, then the final result."""

FINAL_STATUSES = frozenset({JobStatus.DONE, JobStatus.CANCELLED, JobStatus.ERROR})

# IBM's status strings, upper-cased, and the Qiskit status each means (as IBM's clients map them).
_STATUS_MAP = {
    "QUEUED": JobStatus.QUEUED,
    "RUNNING": JobStatus.RUNNING,
    "COMPLETED": JobStatus.DONE,
    "FAILED": JobStatus.ERROR,
    "CANCELLED": JobStatus.CANCELLED,
}
_RAN_TOO_LONG = "RAN TOO LONG"
_POLL_FIRST, _POLL_MAX = 0.1, 2.0
_STREAM_CHECK = 5.0
"""Seconds between status checks while waiting on the WebSocket (a safety net)."""
_COMPLETED = ServiceStatus.COMPLETED.value
_NOT_FINISHED = frozenset({ServiceStatus.QUEUED.value, ServiceStatus.RUNNING.value})
_FRESH_STATUS = 1.0
"""Seconds a status read from the service is taken as current when deciding how to wait."""


class CallableStr(str):
    """A string that returns itself when called: ``job.job_id`` and ``job.job_id()`` both work."""

    __slots__ = ()

    def __call__(self) -> str:
        return str(self)


def parse_status(raw: dict[str, Any]) -> tuple[JobStatus, bool]:
    """The status of IBM's job JSON, and whether the job was cancelled for running too long."""
    state = raw.get("state") if isinstance(raw.get("state"), dict) else {}
    text = str((state or {}).get("status") or raw.get("status") or "").upper()
    reason = str((state or {}).get("reason") or "").upper()
    if text.startswith("CANCELLED") and (_RAN_TOO_LONG in text or reason == _RAN_TOO_LONG):
        return JobStatus.ERROR, True
    try:
        return _STATUS_MAP[text], False
    except KeyError:
        raise RuntimeClientError(
            f"job {raw.get('id')} has a status this client does not know: {text!r}"
        ) from None


class RuntimeJob:
    """A job of a runtime program: its status, result, interim results and logs.

    Waiting (``result``, ``wait_for_final_state``) follows the job's WebSocket, which the service
    closes the moment the job is final; it polls only if the socket cannot be used.
    ``status()`` returns Qiskit's ``JobStatus`` as IBM's clients did: ``DONE`` for completed,
    ``ERROR`` for failed or ran-too-long, and ``QUEUED``, ``RUNNING``, ``CANCELLED``.
    """

    def __init__(
        self,
        client: RuntimeClient,
        raw: dict[str, Any],
        *,
        result_decoder: Decoder | None = None,
    ) -> None:
        self._client = client
        self.job_id = CallableStr(raw["id"])
        """The job's id (call it, ``job.job_id()``, or read it as a string)."""
        self._result_decoder = result_decoder
        self._status = JobStatus.QUEUED
        self._status_read = time.monotonic()
        self._ran_too_long = False
        self._raw: dict[str, Any] = {}
        self._inputs: dict[str, Any] | None = None
        self._result_text: str | None = None
        self._error_message: str | None = None
        self._stream: ResultStream | None = None
        self._update(raw)

    def _update(self, raw: dict[str, Any]) -> None:
        self._raw = {**self._raw, **raw}
        if "state" in raw or "status" in raw:
            self._status, self._ran_too_long = parse_status(raw)
            self._status_read = time.monotonic()
        self.backend = CallableStr(self._raw.get("backend") or "")
        """The backend's name (call it, ``job.backend()``, or read it as a string)."""

    def _refresh(self) -> None:
        self._update(self._client.job(self.job_id))

    @property
    def program_id(self) -> str:
        """The id of the program the job runs."""
        program = self._raw.get("program")
        if not isinstance(program, dict):
            self._refresh()
            program = self._raw.get("program") or {}
        return str(program.get("id", ""))

    @property
    def inputs(self) -> dict[str, Any]:
        """The job's inputs, decoded from the wire format."""
        if self._inputs is None:
            if "params" not in self._raw:
                self._refresh()
            params = self._raw.get("params") or {}
            if isinstance(params, list):
                params = params[0] if params else {}
            self._inputs = decode_inputs(params)
        return self._inputs

    @property
    def creation_date(self) -> datetime | None:
        """When the job was created, in local time."""
        if not self._raw.get("created"):
            self._refresh()
        created = self._raw.get("created")
        return date_parser.isoparse(created).astimezone() if created else None

    def status(self) -> JobStatus:
        """The job's status, asked of the service unless it is already final."""
        if self._status not in FINAL_STATUSES:
            self._refresh()
        return self._status

    def done(self) -> bool:
        """Whether the job completed."""
        return self.status() is JobStatus.DONE

    def running(self) -> bool:
        """Whether the job is running."""
        return self.status() is JobStatus.RUNNING

    def cancelled(self) -> bool:
        """Whether the job was cancelled."""
        return self.status() is JobStatus.CANCELLED

    def in_final_state(self) -> bool:
        """Whether the job has finished: completed, failed or cancelled."""
        return self.status() in FINAL_STATUSES

    def error_message(self) -> str | None:
        """Why the job failed (the program's error text), or ``None`` if it did not fail."""
        if self.status() is not JobStatus.ERROR:
            return None
        if self._error_message is None:
            text = self._results_text()
            if self._ran_too_long:
                self._error_message = (
                    f"Job {self.job_id} ran longer than maximum execution time. "
                    f"Job was cancelled:\n{text}"
                )
            else:
                self._error_message = f"Job {self.job_id} has failed:\n{text}"
        return self._error_message

    def result(self, timeout: float | None = None, decoder: Decoder | None = None) -> Any:
        """Wait for the job to finish and return its decoded result.

        Raises:
            RuntimeJobFailureError: the job failed; the message holds the error text.
            RuntimeJobMaxTimeoutError: the job ran longer than its max execution time.
            RuntimeInvalidStateError: the job was cancelled.
            RuntimeJobTimeoutError: the job did not finish within ``timeout`` seconds.
        """
        self.wait_for_final_state(timeout)
        if self._status is JobStatus.ERROR:
            message = self.error_message() or f"Job {self.job_id} failed"
            error = RuntimeJobMaxTimeoutError if self._ran_too_long else RuntimeJobFailureError
            raise error(message)
        if self._status is JobStatus.CANCELLED:
            raise RuntimeInvalidStateError(f"Job {self.job_id} was cancelled, so it has no result.")
        return decode_with(decoder or self._result_decoder, self._results_text())

    def _results_text(self) -> str:
        if self._result_text is None:
            self._result_text = self._client.job_results(self.job_id)
        return self._result_text

    def wait_for_final_state(self, timeout: float | None = None) -> None:
        """Block until the job is final; ``RuntimeJobTimeoutError`` after ``timeout`` seconds.

        A job submitted (or looked at) a moment ago goes straight to its WebSocket, the quickest
        way to its end; for one known only from longer ago, a status request comes first, since
        a finished job answers that faster than a new socket.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        if self._status in FINAL_STATUSES:
            return
        if time.monotonic() - self._status_read > _FRESH_STATUS and self._finished_already():
            return
        streams: list[ResultStream | None] = []
        if self._stream is not None and self._stream.running:
            streams.append(self._stream)
        streams.append(None)  # then a socket of our own, if the callback's did not see the end
        for stream in streams:
            own = stream is None
            stream = stream or self._client.job_stream(self.job_id).start()
            try:
                if not self._wait_stream(stream, deadline):
                    raise self._timeout(timeout)
            finally:
                if own:
                    stream.cancel()
            if self._completed_by(stream):
                return
            if stream.outcome is StreamOutcome.CLOSED or self.status() in FINAL_STATUSES:
                break
            if own:
                logger.info("streaming job %s failed (%s); polling", self.job_id, stream.error)
        self._poll_until_final(deadline, timeout)

    def _finished_already(self) -> bool:
        """Ask once whether the job has finished: qruntime's results route tells the status with
        the result, so a completed job needs this one request."""
        status, text = self._client.job_outcome(self.job_id)
        if status == _COMPLETED:
            self._status, self._ran_too_long = JobStatus.DONE, False
            self._result_text = text
            return True
        if status in _NOT_FINISHED:
            return False
        if status is not None:  # failed or cancelled: the text is what error_message() shows
            self._result_text = text
        return self.status() in FINAL_STATUSES  # another service, or failed: read the job

    def _completed_by(self, stream: ResultStream) -> bool:
        """Take the final status and result from a stream that ended with them."""
        if stream.outcome is not StreamOutcome.CLOSED or stream.final_result is None:
            return False
        self._status, self._ran_too_long = JobStatus.DONE, False
        if self._result_text is None:
            self._result_text = stream.final_result
        return True

    def _wait_stream(self, stream: ResultStream, deadline: float | None) -> bool:
        """Wait for the stream to end; ``False`` on timeout. Every few seconds the job's status is
        read too, so that a socket that stalls (a handshake never answered) cannot hang us."""
        while True:
            remaining = _remaining(deadline)
            step = _STREAM_CHECK if remaining is None else min(_STREAM_CHECK, max(remaining, 0))
            if stream.wait(step):
                return True
            if self.status() in FINAL_STATUSES:
                return True
            if remaining is not None and remaining <= step:
                return False

    def _poll_until_final(self, deadline: float | None, timeout: float | None) -> None:
        interval = _POLL_FIRST
        while self.status() not in FINAL_STATUSES:
            remaining = _remaining(deadline)
            if remaining is not None and remaining <= 0:
                raise self._timeout(timeout)
            time.sleep(interval if remaining is None else min(interval, remaining))
            interval = min(interval * 1.5, _POLL_MAX)

    def _timeout(self, timeout: float | None) -> RuntimeJobTimeoutError:
        return RuntimeJobTimeoutError(
            f"Timed out waiting for job {self.job_id} to finish after {timeout} seconds; "
            f"it is {self._status.name}. Call result() again to keep waiting."
        )

    def cancel(self) -> None:
        """Cancel the job; ``RuntimeInvalidStateError`` if it has already finished."""
        try:
            self._client.job_cancel(self.job_id)
        except RuntimeInvalidStateError as exc:
            raise RuntimeInvalidStateError(
                f"Job {self.job_id} cannot be cancelled: {exc.message}", exc.status_code
            ) from exc
        self.cancel_result_streaming()
        self._status, self._ran_too_long = JobStatus.CANCELLED, False

    def logs(self) -> str:
        """What the program printed and logged; empty while there is nothing yet."""
        return self._client.job_logs(self.job_id)

    def interim_results(self, decoder: Decoder | None = None) -> list[Any]:
        """Every interim result published so far, decoded, oldest first."""
        text = self._client.job_interim_results(self.job_id)
        if not text.strip():
            return []
        try:
            published = json.loads(text)
        except ValueError:
            return [decode_with(decoder, text)]
        if isinstance(published, list) and all(isinstance(item, str) for item in published):
            # The service lists them newest first, as IBM's did.
            return [decode_with(decoder, item) for item in reversed(published)]
        return [decode_with(decoder, text)]

    def stream_results(self, callback: ResultCallback, decoder: Decoder | None = None) -> None:
        """Call ``callback(job_id, message)`` with each interim result and then the final result.

        Runs in the background until the job finishes. Raises ``RuntimeInvalidStateError`` if
        the job is already streaming or has finished.
        """
        if self._stream is not None and self._stream.running:
            raise RuntimeInvalidStateError(f"Job {self.job_id} is already streaming results.")
        if self.status() in FINAL_STATUSES:
            raise RuntimeInvalidStateError(
                f"Job {self.job_id} has already finished; use result() and interim_results()."
            )
        self._start_streaming(callback, decoder)

    def _start_streaming(self, callback: ResultCallback, decoder: Decoder | None) -> None:
        job_id = str(self.job_id)

        def deliver(text: str) -> None:
            try:
                message = decode_with(decoder or ResultDecoder, text)
            except Exception:
                logger.warning("job %s: a message could not be decoded", job_id, exc_info=True)
                message = text
            callback(job_id, message)

        self._stream = self._client.job_stream(job_id, deliver).start()

    def cancel_result_streaming(self) -> None:
        """Stop calling the callback given to ``run`` or ``stream_results``."""
        if self._stream is not None:
            self._stream.cancel()

    def __repr__(self) -> str:
        program = self._raw.get("program") or {}
        return f"<{type(self).__name__}('{self.job_id}', '{program.get('id', '')}')>"


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())
