"""Following a job on the server: its interim results live, then its final result or failure."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from qruntime.cli.console import err, fail, out
from qruntime.errors import QRuntimeError

# The client and the output helpers load Qiskit, which `qruntime --help` need not wait for.
if TYPE_CHECKING:
    from qruntime.client import RuntimeJob


class InterimPrinter:
    """The callback that prints a job's streamed interim results as they arrive.

    The stream ends with the final result, which nothing tells apart from an interim result;
    the server sends it only once the job's final status is stored. So a message is printed at
    once only if the job was still unfinished after it arrived. Whatever was not printed live
    is printed from the job's stored interim results by ``settle``.
    """

    def __init__(self, job_finished: Callable[[], bool]) -> None:
        self._job_finished = job_finished
        self._lock = threading.Lock()
        self._printed = 0
        self._live = True

    def __call__(self, job_id: str, message: Any) -> None:
        from qruntime.cli.output import print_interim_result

        with self._lock:
            if not self._live:
                return
            try:
                finished = self._job_finished()
            except QRuntimeError:
                finished = True  # cannot tell: settle() prints it from the stored ones
            if finished:
                self._live = False
                return
            print_interim_result(out, message)
            self._printed += 1

    def settle(self, stored: Callable[[], list[Any]]) -> None:
        """Print the stored interim results not printed live; later messages are ignored."""
        from qruntime.cli.output import print_interim_result

        with self._lock:
            self._live = False
            for message in stored()[self._printed :]:
                print_interim_result(out, message)


def follow(job: RuntimeJob, *, interim: bool, as_json: bool = False) -> None:
    """Wait for ``job`` with a spinner, printing interim results if asked, then the result.

    A failed or cancelled job exits with 1 after its error; Ctrl-C stops following, not the job.
    """
    from qruntime.cli.output import print_result
    from qruntime.client import RuntimeInvalidStateError

    printer = InterimPrinter(job.in_final_state) if interim else None
    try:
        if printer is not None:
            # A job that already finished cannot stream: settle() prints its interim results.
            with contextlib.suppress(RuntimeInvalidStateError):
                job.stream_results(printer)
        # On a terminal the spinner shares stdout's console, which prints interim results above
        # it; with stdout piped it goes to stderr, so the pipe gets results only.
        spinner = out if out.is_terminal else err
        with spinner.status(f"job {job.job_id} is running (Ctrl-C stops following it)"):
            job.wait_for_final_state()
    except KeyboardInterrupt:
        job.cancel_result_streaming()
        raise fail(
            f"stopped following job {job.job_id}; it keeps running on the server "
            f"(`qruntime job {job.job_id} --follow` follows it again)",
            code=130,
        ) from None
    if printer is not None:
        printer.settle(job.interim_results)
        job.cancel_result_streaming()
    print_result(out, final_result(job), as_json=as_json)


def final_result(job: RuntimeJob) -> Any:
    """The decoded result of a finished job; a failed or cancelled one exits with 1."""
    from qruntime.client import RuntimeInvalidStateError, RuntimeJobFailureError

    try:
        return job.result()
    except RuntimeJobFailureError as exc:
        err.print(exc.message.rstrip(), highlight=False, markup=False)
        raise fail(
            f"job {job.job_id} failed; `qruntime job {job.job_id} --logs` shows what it printed",
            code=1,
        ) from None
    except RuntimeInvalidStateError as exc:
        raise fail(exc.message, code=1) from None
