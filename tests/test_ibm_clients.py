"""IBM's real clients, unmodified, against a real `qruntime serve` over HTTPS and WSS.

Each scenario is a script in ``tests/compat`` run by the client's own interpreter (see
``tests/reference_clients.py``), with the server's certificate passed the way IBM's clients
take one: ``REQUESTS_CA_BUNDLE`` and ``WEBSOCKET_CLIENT_CA_BUNDLE``.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import LiveServer
from tests.reference_clients import IBM_RUNTIME, IBMQ_PROVIDER, ReferenceClient, python_of

COMPAT = Path(__file__).parent / "compat"
RUN_TIMEOUT_S = 600


def run_script(
    client: ReferenceClient, script: str, server: LiveServer, **settings: str
) -> dict[str, Any]:
    """Run ``tests/compat/SCRIPT`` in the client's environment; its last line, as JSON."""
    certificate = str(server.certfile)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", ""),
        "PYTHONWARNINGS": "ignore",
        "REQUESTS_CA_BUNDLE": certificate,
        "WEBSOCKET_CLIENT_CA_BUNDLE": certificate,
        "QRUNTIME_URL": server.url,
        "QRUNTIME_TOKEN": server.token,
        **settings,
    }
    done = subprocess.run(
        [str(python_of(client)), str(COMPAT / script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    assert done.returncode == 0, f"{script} failed:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_seed_example_runs_verbatim_in_qiskit_ibmq_provider(live_server: LiveServer) -> None:
    seen = run_script(
        IBMQ_PROVIDER,
        "ibmq_provider_seed.py",
        live_server,
        QRUNTIME_HUB="test",
        QRUNTIME_GROUP="premium",
        QRUNTIME_PROJECT="main",
    )
    assert seen["status"] == "DONE"
    counts = seen["counts"]
    assert sum(counts.values()) == 1024  # circuit-runner's default shots
    # A 3-qubit GHZ on the noisy ibmq_bogota emulator: mostly 000 and 111.
    assert counts.get("0x0", 0) + counts.get("0x7", 0) > 0.7 * 1024


def test_hello_world_callback_in_qiskit_ibm_runtime(live_server: LiveServer) -> None:
    seen = run_script(
        IBM_RUNTIME, "ibm_runtime_hello.py", live_server, QRUNTIME_INSTANCE="test/premium/main"
    )
    assert seen["status"] == "DONE"
    assert seen["result"] == "All done!"
    callback = seen["callback"]
    assert [message["iteration"] for message in callback[:-1]] == [0, 1, 2]
    assert callback[-1] == "All done!"
    # The real service's shape: each published message as a string, newest first.
    assert [json.loads(text)["iteration"] for text in seen["interim"]] == [2, 1, 0]
