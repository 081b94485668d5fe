"""What a device emulator costs to get and to run, against Aer's own ``from_backend`` emulator.

For each device, in a fresh Python process (so nothing is cached yet):
  baseline: ``AerSimulator.from_backend(FakeDevice())`` built, then a 3-qubit GHZ run three times;
  qruntime: ``BackendCatalogue().get(name)``, then the same GHZ run three times.
Both sides transpile the circuit once beforehand with a preset pass manager, outside the timing.

    python benchmarks/emulator_start.py [ibmq_bogota ibm_brisbane ...]
"""

from __future__ import annotations

import json
import subprocess
import sys

CHILD = r"""
import json, sys, time
from qiskit import QuantumCircuit
from qiskit.transpiler import generate_preset_pass_manager
side, name = sys.argv[1], sys.argv[2]
from qruntime.backends import BackendCatalogue
catalogue = BackendCatalogue()
catalogue.names()  # listing is paid once per process, by both sides alike
ghz = QuantumCircuit(3)
ghz.h(0); ghz.cx(0, 1); ghz.cx(1, 2); ghz.measure_all()
if side == "aer":
    from qiskit_aer import AerSimulator
    from qiskit_ibm_runtime.fake_provider import FakeProviderForBackendV2
    def ibm_name(fake):
        conf = json.load(open(f"{fake.dirname}/{fake.conf_filename}"))
        return conf["backend_name"].replace("alt_", "ibm_", 1)
    device = next(b for b in FakeProviderForBackendV2().backends() if ibm_name(b) == name)
    start = time.perf_counter()
    backend = AerSimulator.from_backend(device)
else:
    start = time.perf_counter()
    backend = catalogue.get(name)
build = time.perf_counter() - start
circuit = generate_preset_pass_manager(optimization_level=1, backend=backend).run(ghz)
runs = []
for _ in range(3):
    start = time.perf_counter()
    backend.run(circuit, shots=1024, seed_simulator=1).result()
    runs.append(time.perf_counter() - start)
print(json.dumps({"build": build, "runs": runs}))
"""


def measure(side: str, name: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, side, name], capture_output=True, text=True, check=True
    ).stdout
    data = json.loads(out.strip().splitlines()[-1])
    return {"build": data["build"], "first": data["runs"][0], "later": min(data["runs"][1:])}


def main() -> None:
    names = sys.argv[1:] or ["ibmq_bogota", "ibmq_montreal", "ibm_brisbane"]
    print(f"{'device':16} {'side':12} {'get/build':>10} {'first run':>10} {'later run':>10}  (s)")
    for name in names:
        for side in ("aer", "qruntime"):
            m = measure(side, name)
            label = "from_backend" if side == "aer" else "qruntime"
            print(f"{name:16} {label:12} {m['build']:10.3f} {m['first']:10.3f} {m['later']:10.4f}")


if __name__ == "__main__":
    main()
