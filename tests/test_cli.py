"""The `qruntime` command, run as a user runs it: a real process."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from qiskit import QuantumCircuit, qasm2

from qruntime.serialization import encode

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def qruntime(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "qruntime"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "qruntime.cli"]
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def assert_clean_error(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    for word in words:
        assert word in proc.stderr, proc.stderr


def test_seed_example_on_the_bogota_emulator_gives_noisy_counts() -> None:
    proc = qruntime(
        "run",
        "circuit-runner",
        "--local",
        "--backend",
        "ibmq_bogota",
        "--circuit",
        str(EXAMPLES / "ghz.qasm"),
        "--inputs",
        str(EXAMPLES / "circuit-runner.json"),
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["backend_name"] == "ibmq_bogota"
    counts = result["results"][0]["data"]["counts"]
    assert sum(counts.values()) == 1024
    # A GHZ state ideally gives only 00000 (0x0) and 11111 (0x1f); the emulator's noise gives more.
    assert set(counts) - {"0x0", "0x1f"}


def test_default_output_shows_a_counts_table() -> None:
    proc = qruntime(
        "run",
        "circuit-runner",
        "--local",
        "--backend",
        "ibmq_qasm_simulator",
        "--circuit",
        str(EXAMPLES / "ghz.qasm"),
        "-i",
        "shots=100",
    )
    assert proc.returncode == 0, proc.stderr
    assert "11111" in proc.stdout
    assert "00000" in proc.stdout


def test_interim_results_are_printed_as_they_arrive() -> None:
    proc = qruntime("run", "hello-world", "--local", "-i", "iterations=2")
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.startswith("interim result:")]
    assert [json.loads(line.split(":", 1)[1])["iteration"] for line in lines] == [0, 1]
    assert "All done!" in proc.stdout


def test_unknown_backend_lists_valid_names() -> None:
    proc = qruntime(
        "run", "hello-world", "--local", "--backend", "ibmq_nowhere", "-i", "iterations=1"
    )
    assert_clean_error(proc, "ibmq_nowhere", "ibmq_qasm_simulator")


def test_invalid_optimization_level() -> None:
    proc = qruntime(
        "run",
        "circuit-runner",
        "--local",
        "--circuit",
        str(EXAMPLES / "ghz.qasm"),
        "-i",
        "optimization_level=7",
    )
    assert_clean_error(proc, "optimization_level")


def test_circuit_wider_than_the_backend(tmp_path: Path) -> None:
    wide = QuantumCircuit(7)
    wide.h(0)
    for q in range(6):
        wide.cx(q, q + 1)
    wide.measure_all()
    path = tmp_path / "wide.qasm"
    path.write_text(qasm2.dumps(wide))
    proc = qruntime(
        "run", "circuit-runner", "--local", "--backend", "ibmq_bogota", "--circuit", str(path)
    )
    assert_clean_error(proc, "7", "ibmq_bogota", "5")


def test_malformed_qpy(tmp_path: Path) -> None:
    path = tmp_path / "inputs.json"
    path.write_text(
        json.dumps({"circuits": {"__type__": "QuantumCircuit", "__value__": "eJwLzs9NVcgsyC"}})
    )
    proc = qruntime("run", "circuit-runner", "--local", "--inputs", str(path))
    assert_clean_error(proc, "circuits", "QuantumCircuit")


def test_removed_transpiler_option(tmp_path: Path) -> None:
    circuit = QuantumCircuit(2)
    circuit.measure_all()
    path = tmp_path / "inputs.json"
    path.write_text(encode({"circuits": circuit, "routing_method": "stochastic"}))
    proc = qruntime("run", "circuit-runner", "--local", "--inputs", str(path))
    assert_clean_error(proc, "stochastic", "sabre")


def test_bad_qasm_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.qasm"
    path.write_text("OPENQASM 2.0;\nqreg q[2];\nfoo q[0];\n")
    proc = qruntime("run", "circuit-runner", "--local", "--circuit", str(path))
    assert_clean_error(proc, "bad.qasm", "OpenQASM")


def test_openqasm3_circuit(tmp_path: Path) -> None:
    path = tmp_path / "bell.qasm"
    path.write_text(
        'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nbit[2] c;\n'
        "h q[0];\ncx q[0], q[1];\nc = measure q;\n"
    )
    proc = qruntime("run", "circuit-runner", "--local", "--circuit", str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    counts = json.loads(proc.stdout)["results"][0]["data"]["counts"]
    assert set(counts) == {"0x0", "0x3"}


def test_a_failing_program_shows_its_traceback(tmp_path: Path) -> None:
    path = tmp_path / "broken.py"
    path.write_text("def main(backend, user_messenger, **kwargs):\n    raise KeyError('gone')\n")
    proc = qruntime("run", str(path), "--local")
    assert proc.returncode == 1
    assert "KeyError" in proc.stderr
    assert "broken.py" in proc.stderr


def test_without_a_server_it_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        url = f"https://127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setenv("QRUNTIME_URL", url)
    monkeypatch.setenv("QRUNTIME_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("QRUNTIME_TOKEN", raising=False)
    proc = qruntime("run", "hello-world")
    assert_clean_error(proc, f"could not connect to {url}", "qruntime serve", "--local")


def test_lists_backends_and_programs() -> None:
    backends = qruntime("backends")
    assert backends.returncode == 0, backends.stderr
    for name in ("ibmq_qasm_simulator", "simulator_mps", "ibmq_bogota", "ibm_brisbane"):
        assert name in backends.stdout
    programs = qruntime("programs", "--local")  # whatever server this machine runs
    assert programs.returncode == 0, programs.stderr
    for name in ("hello-world", "circuit-runner", "sample-program"):
        assert name in programs.stdout


def test_console_script_is_installed() -> None:
    assert (Path(sys.executable).parent / "qruntime").exists() or shutil.which("qruntime")
    proc = qruntime("--help")
    assert proc.returncode == 0
    assert "run" in proc.stdout
