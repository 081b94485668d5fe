"""The messages between the pool and a worker: JSON objects with a ``"type"``, one per frame.

Pool -> worker::

    {"type": "run", "job_id", "program": {"program_id", "source"?, "metadata"?},
     "params": "<IBM wire-format JSON text>", "backend", "limits": {"log_bytes", "interim_results"}}

Worker -> pool::

    {"type": "ready", "pid", "warm_up_seconds"}        once, when the imports are done
    {"type": "started", "job_id"}                      the program's main is about to be called
    {"type": "interim", "job_id", "seq", "payload"}    an interim result (encoded), seq 0, 1, ...
    {"type": "log", "job_id", "text"}                  captured stdout, stderr and logging
    {"type": "result", "job_id", "payload"}            the final result (encoded); the job is over
    {"type": "failed", "job_id", "message", "traceback", "reason"}    the job is over

Parsing is strict (unknown types, missing or unknown keys and wrong value types are refused with
:class:`ProtocolError`), because the worker runs untrusted code and must not steer the server.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any, ClassVar, TypeVar

from qruntime.errors import QRuntimeError

DEFAULT_LOG_BYTES = 1024 * 1024
DEFAULT_INTERIM_RESULTS = 10_000


class ProtocolError(QRuntimeError):
    """A message that does not follow the protocol; its sender is broken (or hostile)."""


# The annotation text of each field type used below (annotations are strings here, see the
# __future__ import), and the JSON values it admits. Nested messages are parsed by their owner.
_ADMITS: dict[str, tuple[type, ...]] = {
    "bool": (bool,),
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "str | None": (str, type(None)),
    "int | None": (int, type(None)),
    "dict[str, Any] | None": (dict, type(None)),
}


@dataclass(frozen=True)
class _Message:
    TYPE: ClassVar[str]

    def to_json(self) -> bytes:
        """The message as one frame's JSON bytes."""
        return json.dumps({"type": self.TYPE, **asdict(self)}).encode()


_M = TypeVar("_M", bound="_Message")


def _build(cls: type[_M], data: dict[str, Any]) -> _M:
    names = {f.name for f in fields(cls)}
    unknown = set(data) - names - {"type"}
    if unknown:
        raise ProtocolError(f"{cls.TYPE!r} message has unknown keys {sorted(unknown)}")
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in data:
            if f.default is MISSING and f.default_factory is MISSING:
                raise ProtocolError(f"{cls.TYPE!r} message lacks {f.name!r}")
            continue
        value = data[f.name]
        admitted = _ADMITS.get(str(f.type))
        if admitted is not None and (
            not isinstance(value, admitted) or (isinstance(value, bool) and bool not in admitted)
        ):
            raise ProtocolError(
                f"{cls.TYPE!r} message: {f.name!r} must be {f.type}, not {type(value).__name__}"
            )
        values[f.name] = value
    return cls(**values)


def _object(data: object, what: str) -> dict[str, Any]:
    if isinstance(data, bytes):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise ProtocolError(f"{what} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolError(f"{what} must be a JSON object, not {type(data).__name__}")
    return data


@dataclass(frozen=True)
class Ready(_Message):
    """The worker has done its imports and waits for a job."""

    TYPE: ClassVar[str] = "ready"
    pid: int
    warm_up_seconds: float


@dataclass(frozen=True)
class Started(_Message):
    """Inputs are decoded and valid, the backend is built: ``main`` is called next."""

    TYPE: ClassVar[str] = "started"
    job_id: str


@dataclass(frozen=True)
class InterimResult(_Message):
    """Interim result number ``seq`` (from 0, no gaps), encoded in IBM's wire format."""

    TYPE: ClassVar[str] = "interim"
    job_id: str
    seq: int
    payload: str


@dataclass(frozen=True)
class LogOutput(_Message):
    """Text the program wrote to stdout or stderr, or logged."""

    TYPE: ClassVar[str] = "log"
    job_id: str
    text: str


@dataclass(frozen=True)
class JobResult(_Message):
    """The program returned; ``payload`` is its result encoded in IBM's wire format."""

    TYPE: ClassVar[str] = "result"
    job_id: str
    payload: str


@dataclass(frozen=True)
class JobFailed(_Message):
    """The job failed: ``message`` for the user, the program's ``traceback`` (may be empty), and
    a short ``reason`` when the cause is not the program's own exception."""

    TYPE: ClassVar[str] = "failed"
    job_id: str
    message: str
    traceback: str = ""
    reason: str | None = None


WorkerMessage = Ready | Started | InterimResult | LogOutput | JobResult | JobFailed
WorkerEvent = InterimResult | LogOutput
"""What the pool hands to a job's ``on_event``, in the order the program produced it."""

_WORKER_MESSAGES: dict[str, type[WorkerMessage]] = {
    cls.TYPE: cls for cls in (Ready, Started, InterimResult, LogOutput, JobResult, JobFailed)
}


def parse_worker_message(data: bytes) -> WorkerMessage:
    """Parse a frame a worker sent; :class:`ProtocolError` if it is not a valid message."""
    obj = _object(data, "a worker message")
    cls = _WORKER_MESSAGES.get(obj.get("type"))  # type: ignore[arg-type]
    if cls is None:
        raise ProtocolError(f"unknown worker message type {obj.get('type')!r}")
    return _build(cls, obj)


@dataclass(frozen=True)
class ProgramRef(_Message):
    """Which program a job runs: a built-in one by id, or an uploaded one by its source text and
    metadata (either format, as a dict)."""

    TYPE: ClassVar[str] = "program"
    program_id: str
    source: str | None = None
    metadata: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if (self.source is None) != (self.metadata is None):
            raise ProtocolError("an uploaded program needs both its source and its metadata")

    @property
    def is_uploaded(self) -> bool:
        """Whether the program's code came from a user rather than from qruntime."""
        return self.source is not None


@dataclass(frozen=True)
class JobLimits(_Message):
    """What a job may produce: ``log_bytes`` of log text, ``interim_results`` interim results
    (``None``: no limit). Beyond either, output is dropped and the log says so once.
    ``cpu_seconds``: the CPU time (all threads together) the job may use; ``None``: no limit.
    ``last_job``: the worker is replaced after this job, so the kernel may also be told to kill
    it past its CPU time (a limit the worker could never lift for the next job)."""

    TYPE: ClassVar[str] = "limits"
    log_bytes: int = DEFAULT_LOG_BYTES
    interim_results: int | None = DEFAULT_INTERIM_RESULTS
    cpu_seconds: float | None = None
    last_job: bool = False

    def __post_init__(self) -> None:
        optional = (self.interim_results, self.cpu_seconds)
        if self.log_bytes < 0 or any(value is not None and value < 0 for value in optional):
            raise ProtocolError(f"job limits cannot be negative: {self}")


@dataclass(frozen=True)
class JobRequest(_Message):
    """A job for a worker. ``params`` is the job's inputs exactly as the client sent them: JSON
    text in IBM's wire format."""

    TYPE: ClassVar[str] = "run"
    job_id: str
    program: ProgramRef
    params: str
    backend: str
    limits: JobLimits = field(default_factory=JobLimits)

    @classmethod
    def from_json(cls, data: bytes) -> JobRequest:
        """Parse a ``run`` frame; :class:`ProtocolError` if it is not one."""
        obj = _object(data, "a job request")
        if obj.get("type") != cls.TYPE:
            raise ProtocolError(f"expected a {cls.TYPE!r} message, got {obj.get('type')!r}")
        program = _build(ProgramRef, _object(obj.get("program"), "'program'"))
        limits = _build(JobLimits, _object(obj.get("limits", {}), "'limits'"))
        return _build(cls, {**obj, "program": program, "limits": limits})
