"""The transpiler options of a circuit-runner job: checked, merged and made hashable.

IBM's circuit-runner took layout, routing and translation methods, a seed, an optimization level, an
initial layout and free-form ``transpiler_options``. Qiskit 2 dropped some of the choices those
inputs allowed in 2021 (pulse scheduling, ``noise_adaptive`` layout, ``stochastic`` routing, the
``unroller``); a job that asks for one is refused with the choices that remain.
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

from qruntime.errors import InputError

MAX_SHOTS = 100_000
"""IBM's per-job shot limit, which its clients were written against."""

#: Method input -> the preset pass-manager stage whose installed plugins are its valid choices.
METHOD_STAGES = {
    "init_method": "init",
    "layout_method": "layout",
    "routing_method": "routing",
    "translation_method": "translation",
    "optimization_method": "optimization",
    "scheduling_method": "scheduling",
}

#: Choices of 2021 that Qiskit 2 no longer has.
REMOVED_CHOICES = {
    "layout_method": frozenset({"noise_adaptive"}),
    "routing_method": frozenset({"stochastic"}),
    "translation_method": frozenset({"unroller"}),
}

#: ``transpile`` keywords of Qiskit 0.x that Qiskit 2 removed, and what replaces them.
REMOVED_TRANSPILER_OPTIONS = {
    "inst_map": "pulse was removed in Qiskit 2 and the backend's target holds the gates",
    "backend_properties": "the backend's target holds the error rates",
    "instruction_durations": "the backend's target holds the durations",
    "timing_constraints": "the backend's target holds the timing constraints",
}

#: Keywords of ``generate_preset_pass_manager`` a job may set through ``transpiler_options``.
PASS_MANAGER_OPTIONS = frozenset(
    {
        "approximation_degree",
        "basis_gates",
        "coupling_map",
        "dt",
        "hls_config",
        "init_method",
        "initial_layout",
        "layout_method",
        "optimization_level",
        "optimization_method",
        "qubits_initially_zero",
        "routing_method",
        "scheduling_method",
        "seed_transpiler",
        "translation_method",
        "unitary_synthesis_method",
        "unitary_synthesis_plugin_config",
    }
)

#: Keywords of ``PassManager.run`` a job may set through ``transpiler_options``.
RUN_OPTIONS = frozenset({"callback", "num_processes", "output_name"})


@dataclass(frozen=True)
class TranspileOptions:
    """How to transpile a job's circuits.

    ``pass_manager`` holds the keywords of ``generate_preset_pass_manager`` (without the backend),
    ``run`` those of ``PassManager.run``. ``cache_key`` is a hashable form of ``pass_manager``, or
    None when a value in it (an ``HLSConfig``, say) cannot be hashed and the pass manager must be
    built for this job alone.
    """

    optimization_level: int
    pass_manager: Mapping[str, Any]
    run: Mapping[str, Any]
    cache_key: Hashable | None

    @property
    def initial_layout(self) -> list[int] | None:
        """The physical qubit of each virtual qubit, when the job fixed them."""
        layout: list[int] | None = self.pass_manager.get("initial_layout")
        return layout


@functools.cache
def method_choices(field: str) -> tuple[str, ...]:
    """The values ``field`` (``layout_method``, ...) accepts: the installed stage plugins."""
    from qiskit.transpiler.preset_passmanagers.plugin import list_stage_plugins

    return tuple(list_stage_plugins(METHOD_STAGES[field]))


def reject_pulse_options(
    scheduling_method: Any, schedule_circuit: Any, inst_map: Any, meas_map: Any
) -> None:
    """Refuse the pulse-scheduling inputs of IBM's program; Qiskit 2 has no pulse schedules."""
    if scheduling_method is not None:
        raise InputError(
            f"scheduling_method {scheduling_method!r} asked for a pulse schedule, and pulse "
            "scheduling was removed in Qiskit 2; to schedule idle time as delays in the circuits, "
            "pass transpiler_options={'scheduling_method': ...} with one of: "
            + ", ".join(sorted(c for c in method_choices("scheduling_method") if c != "default")),
            field="scheduling_method",
        )
    if schedule_circuit:
        raise InputError(
            "schedule_circuit=True asked for pulse schedules, and pulse scheduling was removed in "
            "Qiskit 2; leave schedule_circuit out (or false)",
            field="schedule_circuit",
        )
    for name, value in (("inst_map", inst_map), ("meas_map", meas_map)):
        if value is not None:
            raise InputError(
                f"{name} was removed in Qiskit 2 together with pulse; the backend's target "
                f"describes its instructions, so leave {name} out",
                field=name,
            )


def check_method(field: str, value: Any) -> None:
    """Refuse a layout/routing/translation/... method that Qiskit 2 does not have."""
    choices = method_choices(field)
    if value is None or value in choices:
        return
    listed = ", ".join(sorted(c for c in choices if c != "default"))
    if not isinstance(value, str):
        raise InputError(f"{field} must be a string, one of: {listed}; not {value!r}", field=field)
    if value in REMOVED_CHOICES.get(field, ()):
        raise InputError(
            f"{field} {value!r} was removed in Qiskit 2; choose one of: {listed}", field=field
        )
    raise InputError(f"{field} {value!r} is not known; choose one of: {listed}", field=field)


def as_int(value: Any) -> int | None:
    """``value`` as an int when it is a whole number (numpy and ``2.0`` included), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real) and float(value).is_integer():
        return int(float(value))
    return None


def check_shots(shots: Any, backend_max_shots: int | None, backend_name: str) -> int:
    """The number of shots, 1024 when not given, within IBM's and the backend's limits."""
    if shots is None:
        return 1024
    number = as_int(shots)
    if number is None:
        raise InputError(f"shots must be an integer, not {shots!r}", field="shots")
    limit = min(MAX_SHOTS, backend_max_shots or MAX_SHOTS)
    if not 1 <= number <= limit:
        raise InputError(
            f"shots must be between 1 and {limit} on {backend_name}, not {number}", field="shots"
        )
    return number


def check_rep_delay(rep_delay: Any) -> None:
    """Refuse a ``rep_delay`` that is not a non-negative number of seconds."""
    if rep_delay is None:
        return
    if isinstance(rep_delay, bool) or not isinstance(rep_delay, Real) or rep_delay < 0:
        raise InputError(
            f"rep_delay must be a non-negative number of seconds, not {rep_delay!r}",
            field="rep_delay",
        )


def transpile_options(
    *,
    num_backend_qubits: int | None,
    optimization_level: Any,
    seed_transpiler: Any,
    initial_layout: Any,
    layout_method: Any,
    routing_method: Any,
    translation_method: Any,
    transpiler_options: Any,
) -> TranspileOptions:
    """Check a job's transpiler inputs and merge them into one :class:`TranspileOptions`.

    A key given both at the top level and in ``transpiler_options`` must agree, as IBM's program
    failed on such duplicates too.
    """
    extra = _check_transpiler_options(transpiler_options)
    merged: dict[str, Any] = dict(extra)
    top_level = {
        "optimization_level": optimization_level,
        "seed_transpiler": seed_transpiler,
        "initial_layout": initial_layout,
        "layout_method": layout_method,
        "routing_method": routing_method,
        "translation_method": translation_method,
    }
    for key, value in top_level.items():
        if value is None:
            continue
        if key in extra and extra[key] is not None and extra[key] != value:
            raise InputError(
                f"{key} is given twice with different values ({value!r} and "
                f"transpiler_options[{key!r}] = {extra[key]!r}); give it once",
                field=key,
            )
        merged[key] = value

    level = _check_optimization_level(merged.pop("optimization_level", None))
    for field in METHOD_STAGES:
        check_method(field, merged.get(field))
    seed = merged.get("seed_transpiler")
    if seed is not None:
        merged["seed_transpiler"] = as_int(seed)
        if merged["seed_transpiler"] is None:
            raise InputError(
                f"seed_transpiler must be an integer, not {seed!r}", field="seed_transpiler"
            )
    if merged.get("initial_layout") is not None:
        merged["initial_layout"] = _check_initial_layout(
            merged["initial_layout"], num_backend_qubits
        )
    pass_manager = {k: v for k, v in merged.items() if k in PASS_MANAGER_OPTIONS and v is not None}
    run = {k: v for k, v in merged.items() if k in RUN_OPTIONS and v is not None}
    try:
        cache_key: Hashable | None = (level, _freeze(pass_manager))
    except TypeError:
        cache_key = None
    return TranspileOptions(level, pass_manager, run, cache_key)


def _check_transpiler_options(options: Any) -> dict[str, Any]:
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise InputError(
            f"transpiler_options must be an object (a dict), not {type(options).__name__}",
            field="transpiler_options",
        )
    for key in options:
        if key in REMOVED_TRANSPILER_OPTIONS:
            raise InputError(
                f"transpiler_options[{key!r}] was removed in Qiskit 2: "
                f"{REMOVED_TRANSPILER_OPTIONS[key]}; leave it out",
                field="transpiler_options",
            )
        if key not in PASS_MANAGER_OPTIONS | RUN_OPTIONS:
            raise InputError(
                f"transpiler_options[{key!r}] is not a transpiler option; use any of: "
                + ", ".join(sorted(PASS_MANAGER_OPTIONS | RUN_OPTIONS)),
                field="transpiler_options",
            )
    return dict(options)


def _check_optimization_level(level: Any) -> int:
    if level is None:
        return 1
    number = as_int(level)
    if number is None or not 0 <= number <= 3:
        raise InputError(
            f"optimization_level must be one of 0, 1, 2, 3, not {level!r}",
            field="optimization_level",
        )
    return number


def _check_initial_layout(layout: Any, num_backend_qubits: int | None) -> list[int]:
    """Turn a list of physical qubits, or a dict virtual -> physical, into a list.

    Dict keys are virtual qubit indices; JSON makes them strings, so "0" and 0 both work.
    """
    if isinstance(layout, Mapping):
        try:
            by_virtual = {int(k): v for k, v in layout.items()}
        except (TypeError, ValueError):
            raise InputError(
                "initial_layout as a dict maps virtual qubit indices (0, 1, ...) to physical "
                f"qubits; its keys {list(layout)!r} are not all indices",
                field="initial_layout",
            ) from None
        if sorted(by_virtual) != list(range(len(by_virtual))):
            raise InputError(
                "initial_layout as a dict must give a physical qubit for each virtual qubit "
                f"0..{len(by_virtual) - 1}; it gives them for {sorted(by_virtual)}",
                field="initial_layout",
            )
        layout = [by_virtual[k] for k in range(len(by_virtual))]
    if not isinstance(layout, list | tuple) or not layout:
        raise InputError(
            "initial_layout must be a non-empty list of physical qubits (one per circuit qubit) "
            f"or a dict virtual -> physical, not {layout!r}",
            field="initial_layout",
        )
    physical: list[int] = []
    for value in layout:
        qubit = as_int(value)
        if qubit is None:
            raise InputError(
                f"initial_layout holds {value!r}; physical qubits are integers",
                field="initial_layout",
            )
        if qubit < 0 or (num_backend_qubits is not None and qubit >= num_backend_qubits):
            raise InputError(
                f"initial_layout names physical qubit {qubit}, but the backend's qubits are "
                f"0..{(num_backend_qubits or 1) - 1}",
                field="initial_layout",
            )
        physical.append(qubit)
    if len(set(physical)) != len(physical):
        raise InputError(
            f"initial_layout {physical} places two virtual qubits on one physical qubit",
            field="initial_layout",
        )
    return physical


def _freeze(value: Any) -> Hashable:
    """A hashable stand-in for a JSON-like ``value``; TypeError for anything else.

    Other objects (an ``HLSConfig``, a ``CouplingMap``) hash by identity, so caching on them would
    only fill the cache with pass managers no later job can hit.
    """
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    if value is None or isinstance(value, str | int | float):
        return value
    raise TypeError(f"{type(value).__name__} is not JSON-like")
