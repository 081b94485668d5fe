"""The backend a program's ``main(backend, user_messenger, **kwargs)`` receives.

A :class:`ProgramBackend` is a Qiskit ``BackendV2`` that wraps the backend doing the work (normally
an ``AerSimulator`` configured as a simulator or as a device emulator) under its IBM name, and adds
what programs written for IBM's 2021 runtime call on it:

* ``backend.name`` and ``backend.name()`` both give the name (:class:`BackendName`);
* ``configuration()``, ``properties()`` and ``status()`` as ``BackendV1`` had them;
* ``run(circuits, shots=..., **run_config)`` accepts IBM's run options; those that mean nothing
  here (``init_qubits``, ``rep_delay``, ...) are dropped, and the job's result carries the IBM name.

``transpile(circuits, backend)`` and ``generate_preset_pass_manager(backend=backend)`` use its
``target``.
"""

from __future__ import annotations

import copy
import datetime
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from qiskit.circuit import QuantumCircuit
from qiskit.providers import BackendV2, JobStatus, JobV1, Options
from qiskit.result import Result
from qiskit.transpiler import Target

from qruntime.errors import InputError

__all__ = [
    "IBM_ONLY_RUN_OPTIONS",
    "BackendConfiguration",
    "BackendName",
    "BackendStatus",
    "ProgramBackend",
    "ProgramJob",
]

logger = logging.getLogger(__name__)

IBM_ONLY_RUN_OPTIONS = frozenset(
    {
        # Options of IBM hardware and of its job service that a simulator has no use for.
        "init_qubits",
        "rep_delay",
        "rep_time",
        "meas_level",
        "meas_return",
        "qubit_lo_freq",
        "meas_lo_freq",
        "schedule_los",
        "use_measure_esp",
        "timeout",
        "job_name",
        "job_share_level",
        "job_tags",
        "experiment_id",
        "header",
        "qobj_id",
        "qobj_header",
        "live_data_enabled",
        # circuit-runner forwards these transpiler inputs to run() (seed §1.1); they are
        # meaningless once the circuits are compiled.
        "layout_method",
        "routing_method",
        "translation_method",
        "scheduling_method",
    }
)
"""Run options IBM's backends accepted that are dropped before the wrapped backend runs."""

# BackendV1 configuration objects gave these in seconds; the JSON has nanoseconds (dt, dtm)
# and microseconds (the repetition times).
_TO_SECONDS = {
    "dt": 1e-9,
    "dtm": 1e-9,
    "rep_times": 1e-6,
    "rep_delay_range": 1e-6,
    "default_rep_delay": 1e-6,
}

_UNSET = object()


class BackendName(str):
    """A backend name that also answers when called.

    Programs written for ``BackendV1`` call ``backend.name()``; those written for ``BackendV2``
    read ``backend.name``. Both give the same string.
    """

    __slots__ = ()

    def __call__(self) -> str:
        """Return the name as a plain ``str``."""
        return str(self)


class ReadOnlyNamespace:
    """Attribute access to a JSON object; nested objects are namespaces too. Nothing can be set.

    Values are copies: changing a list read from it leaves the namespace unchanged.
    """

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_data", copy.deepcopy(dict(data)))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "_data":
            raise AttributeError(name)
        try:
            value = self._data[name]
        except KeyError:
            raise AttributeError(
                f"{type(self).__name__} has no attribute {name!r}; "
                f"it has: {', '.join(sorted(self._data))}"
            ) from None
        return _view(self._convert(name, value))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __dir__(self) -> Iterable[str]:
        return sorted({*super().__dir__(), *self._data})

    def __contains__(self, name: object) -> bool:
        return name in self._data

    def get(self, name: str, default: Any = None) -> Any:
        """Return the attribute ``name``, or ``default`` if there is none."""
        return getattr(self, name) if name in self._data else default

    def __repr__(self) -> str:
        fields = ", ".join(f"{key}={value!r}" for key, value in sorted(self._data.items())[:6])
        more = ", ..." if len(self._data) > 6 else ""
        return f"{type(self).__name__}({fields}{more})"

    def to_dict(self) -> dict[str, Any]:
        """Return a copy of the JSON object."""
        return copy.deepcopy(self._data)

    def _convert(self, name: str, value: Any) -> Any:
        return value


class BackendConfiguration(ReadOnlyNamespace):
    """An IBM backend configuration, read like ``BackendV1.configuration()`` returned it.

    Built from the JSON the catalogue serves to IBM's clients, so both sides agree. As in IBM's
    configuration objects, ``dt``, ``dtm`` and the repetition times are in seconds here, and
    ``num_qubits`` is another name for ``n_qubits``. ``to_dict()`` gives the JSON back unchanged.
    """

    __slots__ = ()

    @property
    def num_qubits(self) -> int:
        """The number of qubits (``n_qubits``)."""
        return int(self._data["n_qubits"])

    def _convert(self, name: str, value: Any) -> Any:
        factor = _TO_SECONDS.get(name)
        if factor is None or value is None:
            return value
        if isinstance(value, list):
            return [_scaled(item, factor) for item in value]
        return value * factor


def _scaled(value: Any, factor: float) -> Any:
    if isinstance(value, list):
        return [item * factor for item in value]
    return value * factor


def _view(value: Any) -> Any:
    if isinstance(value, Mapping):
        return ReadOnlyNamespace(value)
    if isinstance(value, list):
        return [_view(item) for item in value]
    return value


@dataclass(frozen=True)
class BackendStatus:
    """What ``BackendV1.status()`` reported: whether the backend takes jobs, and its queue."""

    backend_name: str
    backend_version: str
    operational: bool
    pending_jobs: int
    status_msg: str

    def to_dict(self) -> dict[str, Any]:
        """Return the status as IBM's ``BackendStatus`` JSON."""
        return asdict(self)


class ProgramJob(JobV1):  # type: ignore[misc]
    """The job ``ProgramBackend.run`` returns: the wrapped backend's job under the IBM name."""

    def __init__(self, backend: ProgramBackend, job: Any) -> None:
        super().__init__(backend, job.job_id())
        self._job = job

    def submit(self) -> None:
        """Do nothing: the job was submitted when ``run`` returned it."""

    def result(self, timeout: float | None = None) -> Result:
        """Wait for the job and return its ``Result``, named after the IBM backend."""
        result = self._job.result() if timeout is None else self._job.result(timeout=timeout)
        backend = self.backend()
        result.backend_name = str(backend.name)
        result.backend_version = backend.backend_version
        return result

    def status(self) -> JobStatus:
        """Return the wrapped job's status."""
        return self._job.status()

    def cancel(self) -> Any:
        """Cancel the wrapped job."""
        return self._job.cancel()


class ProgramBackend(BackendV2):  # type: ignore[misc]
    """A backend as a program's ``main`` receives it: a real backend under its IBM name.

    Args:
        backend: the backend that runs the circuits.
        configuration: the IBM configuration JSON of this backend (the catalogue's), or a
            :class:`BackendConfiguration` of it to share; its ``backend_name`` is the name, its
            ``max_shots`` and ``max_experiments`` are the limits ``run`` enforces.
        target: the target to compile for, when it should differ from ``backend.target``.
        properties: called once, on the first ``properties()``, to load the calibration
            properties; ``None`` for backends without any (simulators).

    Options are the wrapped backend's, copied: ``set_options`` on one ``ProgramBackend`` changes
    neither the wrapped backend nor any other ``ProgramBackend`` of it.
    """

    def __init__(
        self,
        backend: BackendV2,
        configuration: Mapping[str, Any] | BackendConfiguration,
        *,
        target: Target | None = None,
        properties: Callable[[], Any] | None = None,
    ) -> None:
        if not isinstance(configuration, BackendConfiguration):
            configuration = BackendConfiguration(configuration)
        super().__init__(
            provider=None,
            name=BackendName(configuration.backend_name),
            description=configuration.get("description"),
            online_date=_parse_date(configuration.get("online_date")),
            backend_version=configuration.get("backend_version"),
        )
        self._backend = backend
        self._configuration = configuration
        self._max_circuits = _positive_int(configuration.get("max_experiments"))
        self._max_shots = _positive_int(configuration.get("max_shots"))
        self._target = target
        self._load_properties = properties
        self._properties: Any = _UNSET
        self._options = copy.copy(backend.options)

    name: BackendName

    @classmethod
    def _default_options(cls) -> Options:
        # Replaced in __init__ by a copy of the wrapped backend's options.
        return Options()

    @property
    def target(self) -> Target:
        """The target ``transpile`` compiles for."""
        return self._target if self._target is not None else self._backend.target

    @property
    def max_circuits(self) -> int | None:
        """The most circuits one ``run`` accepts (the configuration's ``max_experiments``)."""
        return self._max_circuits

    @property
    def max_shots(self) -> int | None:
        """The most shots one ``run`` accepts (the configuration's ``max_shots``)."""
        return self._max_shots

    @property
    def wrapped(self) -> BackendV2:
        """The backend that runs the circuits."""
        return self._backend

    def configuration(self) -> BackendConfiguration:
        """Return the IBM configuration with attribute access: ``n_qubits``, ``basis_gates``..."""
        return self._configuration

    def properties(self) -> Any:
        """Return the calibration properties (IBM ``BackendProperties``), or ``None``."""
        if self._properties is _UNSET:
            self._properties = self._load_properties() if self._load_properties else None
        return self._properties

    def status(self) -> BackendStatus:
        """Return the status: operational, and no queue (this program's job holds the backend)."""
        return BackendStatus(
            backend_name=str(self.name),
            backend_version=self.backend_version or "",
            operational=True,
            pending_jobs=0,
            status_msg="active",
        )

    def run(
        self, run_input: QuantumCircuit | Iterable[QuantumCircuit], **options: Any
    ) -> ProgramJob:
        """Run one circuit or a list of circuits and return the job; ``job.result()`` waits.

        ``shots``, ``memory``, ``seed_simulator``, ``parameter_binds`` and the wrapped backend's
        own options pass through. The options in :data:`IBM_ONLY_RUN_OPTIONS` are accepted and
        dropped.

        Raises:
            InputError: no circuits, more circuits than ``max_circuits``, or shots out of range.
        """
        circuits = [run_input] if isinstance(run_input, QuantumCircuit) else list(run_input)
        if not circuits:
            raise InputError(f"Nothing to run on {self.name}: the list of circuits is empty.")
        limit = self.max_circuits
        if limit is not None and len(circuits) > limit:
            raise InputError(
                f"{len(circuits)} circuits are more than {self.name} runs in one job "
                f"(max_experiments = {limit}); run them in batches of at most {limit}.",
                field="circuits",
            )
        job = self._backend.run(circuits, **self._run_options(options))
        return ProgramJob(self, job)

    def _run_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        dropped = sorted(key for key in options if key in IBM_ONLY_RUN_OPTIONS)
        if dropped:
            logger.debug("%s: ignoring run options it has no use for: %s", self.name, dropped)
        base = self._backend.options
        merged = {
            key: value for key, value in self._options.items() if base.get(key, _UNSET) is not value
        }
        merged.update((k, v) for k, v in options.items() if k not in IBM_ONLY_RUN_OPTIONS)
        if "shots" in merged and merged["shots"] is not None:
            merged["shots"] = self._checked_shots(merged["shots"])
        return merged

    def _checked_shots(self, shots: Any) -> int:
        limit = self.max_shots
        try:
            count = int(shots)
        except (TypeError, ValueError):
            count = -1
        if count != shots or count < 1 or (limit is not None and count > limit):
            bound = f" and at most {limit}" if limit is not None else ""
            raise InputError(
                f"shots must be a whole number at least 1{bound} on {self.name}; got {shots!r}.",
                field="shots",
            )
        return count

    def __getattr__(self, name: str) -> Any:
        # transpile() asks the backend for these optional stage-plugin hooks by name.
        if name in ("get_translation_stage_plugin", "get_scheduling_stage_plugin"):
            return getattr(self.__dict__.get("_backend"), name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __repr__(self) -> str:
        return f"<ProgramBackend {str(self.name)!r} wrapping {type(self._backend).__name__}>"


def _positive_int(value: Any) -> int | None:
    return int(value) if value else None


def _parse_date(value: Any) -> datetime.datetime | None:
    if isinstance(value, datetime.datetime) or value is None:
        return value
    return datetime.datetime.fromisoformat(str(value))
