"""IBM's own clients of 2021-2022, each in a virtual environment of its own (old Qiskit).

The environments live under a cache path, not in the repository: ``$QRUNTIME_REFERENCE_ENVS``,
else ``$XDG_CACHE_HOME/qruntime/reference-clients`` (``~/.cache/...``). One is built the first
time a test needs it (a minute or two from PyPI) and reused while its pins stay the same.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

BUILD_TIMEOUT_S = 1200


@dataclass(frozen=True)
class ReferenceClient:
    name: str
    pins: tuple[str, ...]


IBMQ_PROVIDER = ReferenceClient(
    "qiskit-ibmq-provider-0.20.2",
    ("qiskit-ibmq-provider==0.20.2", "qiskit-terra==0.23.3", "websocket-client<=1.8.0"),
)
IBM_RUNTIME = ReferenceClient(
    "qiskit-ibm-runtime-0.7.0",
    ("qiskit-ibm-runtime==0.7.0", "qiskit-terra==0.22.4", "numpy<2"),
)


def cache_root() -> Path:
    configured = os.environ.get("QRUNTIME_REFERENCE_ENVS")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "qruntime" / "reference-clients"


def python_of(client: ReferenceClient) -> Path:
    """The environment's interpreter, built first if missing or made with other pins; the test
    is skipped if it cannot be built, or fails where ``QRUNTIME_REQUIRE_REFERENCE_CLIENTS=1``."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    home = root / client.name
    python = home / "bin" / "python"
    stamp = home / "qruntime-pins.json"
    wanted = json.dumps(list(client.pins))
    with open(root / f"{client.name}.lock", "w") as lock:  # xdist workers build it once
        fcntl.flock(lock, fcntl.LOCK_EX)
        if python.exists() and stamp.exists() and stamp.read_text() == wanted:
            return python
        try:
            subprocess.run(
                [sys.executable, "-m", "venv", "--clear", str(home)],
                check=True,
                capture_output=True,
                timeout=BUILD_TIMEOUT_S,
            )
            subprocess.run(
                [str(python), "-m", "pip", "install", "-q", *client.pins],
                check=True,
                capture_output=True,
                text=True,
                timeout=BUILD_TIMEOUT_S,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            output = getattr(exc, "stderr", "") or ""
            message = f"cannot build {client.name} in {home}: {exc}\n{str(output)[-2000:]}"
            if os.environ.get("QRUNTIME_REQUIRE_REFERENCE_CLIENTS") == "1":
                pytest.fail(message)
            pytest.skip(message)
        stamp.write_text(wanted)
        return python
