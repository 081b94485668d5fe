"""Printing interim and final results for people (or as wire-format JSON with ``--json``)."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

from qruntime.serialization import RuntimeEncoder


def print_interim_result(console: Console, message: Any) -> None:
    """One line per interim result, as it arrives."""
    console.print(f"interim result: {json.dumps(message, cls=RuntimeEncoder)}", highlight=False)


def print_result(console: Console, result: Any, as_json: bool = False) -> None:
    """The final result: counts as tables for circuit results, JSON otherwise."""
    if not as_json and _is_result_dict(result):
        _print_counts(console, result)
        return
    if isinstance(result, str):
        console.print(result, highlight=False, markup=False)
    else:
        console.print_json(json.dumps(result, cls=RuntimeEncoder))


def _is_result_dict(result: Any) -> bool:
    return isinstance(result, dict) and "results" in result and "backend_name" in result


def _print_counts(console: Console, result: dict[str, Any]) -> None:
    from qiskit.result import Result

    parsed = Result.from_dict(result)
    for index, experiment in enumerate(result["results"]):
        header = experiment.get("header") or {}
        name = header.get("name") or f"experiment {index}"
        counts = parsed.get_counts(index)
        shots = sum(counts.values())
        table = Table(
            "outcome", "count", "probability", title=f"{name} on {result['backend_name']}"
        )
        for outcome, count in sorted(counts.items(), key=lambda kv: -kv[1]):
            table.add_row(outcome, str(count), f"{count / shots:.4f}")
        console.print(table)
        if "quasiprobabilities" in experiment.get("data", {}):
            width = len(header.get("final_measurement_mapping") or {}) or None
            quasi = {
                _bitstring(key, width): value
                for key, value in experiment["data"]["quasiprobabilities"].items()
            }
            console.print(f"mitigated quasi-probabilities: {json.dumps(quasi)}", highlight=False)
    console.print(
        f"{len(result['results'])} experiment(s), success={result.get('success')}, "
        "--json prints the whole result",
        highlight=False,
    )


def _bitstring(hex_key: str, width: int | None) -> str:
    bits = bin(int(hex_key, 16))[2:]
    return bits.zfill(width) if width else bits
