"""circuit-runner: compile circuits for a backend, run them, optionally mitigate readout errors.

The built-in program of IBM's 2021 Qiskit Runtime, with every input its clients send. The final
result is ``Result.to_dict()`` (what ``RunnerResult``/``Result.from_dict`` decode); with
``measurement_error_mitigation`` each experiment also carries M3 quasi-probabilities. No interim
results are published.
"""

from __future__ import annotations

from typing import Any

from qiskit.exceptions import QiskitError

from qruntime.errors import InputError, QRuntimeError

from .circuits import check_circuits, load_circuits
from .mitigation import final_measurement_mappings, mitigate
from .options import check_rep_delay, check_shots, reject_pulse_options, transpile_options
from .transpilation import transpile


def main(
    backend: Any,
    user_messenger: Any,
    circuits: Any,
    shots: int | None = 1024,
    initial_layout: list[int] | dict[str, int] | None = None,
    layout_method: str | None = None,
    routing_method: str | None = None,
    translation_method: str | None = None,
    seed_transpiler: int | None = None,
    optimization_level: int | None = 1,
    init_qubits: bool | None = True,
    rep_delay: float | None = None,
    transpiler_options: dict[str, Any] | None = None,
    memory: bool | None = False,
    measurement_error_mitigation: bool | None = False,
    scheduling_method: str | None = None,
    schedule_circuit: bool | None = False,
    inst_map: Any = None,
    meas_map: Any = None,
    **run_options: Any,
) -> dict[str, Any]:
    """Transpile ``circuits`` for ``backend``, run them, and return the result as a dict.

    Transpiler inputs (``initial_layout``, the ``*_method``s, ``seed_transpiler``,
    ``optimization_level``, ``transpiler_options``) configure one preset pass manager, cached
    across jobs. ``shots``, ``memory``, ``init_qubits``, ``rep_delay`` and any other keyword
    (``seed_simulator``, ``use_measure_esp``, ...) go to ``backend.run``, as in IBM's program.
    The pulse inputs of 2021 (``scheduling_method``, ``schedule_circuit``, ``inst_map``,
    ``meas_map``) are refused: Qiskit 2 has no pulse.

    Raises:
        InputError: an input is malformed, asks for something Qiskit 2 removed, or does not fit
            the backend; the message names the input and what is allowed.
        QRuntimeError: the backend failed to run the circuits.
    """
    reject_pulse_options(scheduling_method, schedule_circuit, inst_map, meas_map)
    num_shots = check_shots(shots, getattr(backend, "max_shots", None), str(backend.name))
    check_rep_delay(rep_delay)
    keep_memory = _flag(memory, "memory", default=False)
    reset_qubits = _flag(init_qubits, "init_qubits", default=True)
    mitigating = _flag(measurement_error_mitigation, "measurement_error_mitigation", default=False)

    backend_name = str(backend.name)
    # Some backends build a new Target on every access; read it once per job.
    target = backend.target
    num_qubits: int | None = target.num_qubits
    if num_qubits is None:
        num_qubits = backend.num_qubits
    options = transpile_options(
        num_backend_qubits=num_qubits,
        optimization_level=optimization_level,
        seed_transpiler=seed_transpiler,
        initial_layout=initial_layout,
        layout_method=layout_method,
        routing_method=routing_method,
        translation_method=translation_method,
        transpiler_options=transpiler_options,
    )
    loaded = load_circuits(circuits)
    check_circuits(loaded, backend_name, num_qubits, options.initial_layout)

    transpiled = transpile(loaded, backend, target, options)
    mappings = final_measurement_mappings(transpiled) if mitigating else None

    run_options.update(shots=num_shots, memory=keep_memory, init_qubits=reset_qubits)
    if rep_delay is not None:
        run_options["rep_delay"] = rep_delay
    output = _run(backend, backend_name, transpiled, run_options)

    if mappings is not None:
        mitigate(backend, num_qubits, output, mappings, run_options.get("seed_simulator"))
    return output


def _run(
    backend: Any, backend_name: str, circuits: list[Any], run_options: dict[str, Any]
) -> dict[str, Any]:
    """Run ``circuits`` in as few jobs as the backend allows and return one result dict."""
    limit = getattr(backend, "max_circuits", None) or len(circuits)
    seed = run_options.get("seed_simulator")
    parts = []
    for start in range(0, len(circuits), limit):
        options = run_options
        if seed is not None and start:
            # Aer derives each experiment's seed from the job's; shifting it per batch keeps
            # equal circuits in different batches from drawing identical samples.
            options = {**run_options, "seed_simulator": seed + start}
        parts.append(_run_batch(backend, backend_name, circuits[start : start + limit], options))
    output = parts[0]
    for part in parts[1:]:
        output["results"].extend(part["results"])
        if "time_taken" in output and "time_taken" in part:
            output["time_taken"] += part["time_taken"]
    return output


def _run_batch(
    backend: Any, backend_name: str, circuits: list[Any], run_options: dict[str, Any]
) -> dict[str, Any]:
    try:
        result = backend.run(circuits, **run_options).result()
    except QRuntimeError:
        raise
    except (QiskitError, TypeError, ValueError) as error:
        # Raised before anything ran: a run option or a circuit does not suit the backend.
        raise InputError(f"{backend_name} cannot run the circuits: {error}") from error
    _check_success(result, backend_name)
    output: dict[str, Any] = result.to_dict()
    return output


def _flag(value: Any, field: str, *, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InputError(f"{field} must be true or false, not {value!r}", field=field)
    return value


def _check_success(result: Any, backend_name: str) -> None:
    if result.success:
        return
    failures = [
        f"circuit {(getattr(experiment, 'header', None) or {}).get('name', index)!r}: "
        f"{experiment.status}"
        for index, experiment in enumerate(result.results)
        if not experiment.success
    ]
    raise QRuntimeError(
        f"{backend_name} could not run the circuits: " + ("; ".join(failures) or str(result.status))
    )
