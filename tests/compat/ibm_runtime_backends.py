"""qiskit-ibm-runtime 0.7.0 against a qruntime server: backends, least_busy, job tags.

Environment as for ibm_runtime_hello.py. Prints one JSON line of what it saw.
"""

import json
import os

from qiskit_ibm_runtime import QiskitRuntimeService

service = QiskitRuntimeService(
    channel="ibm_quantum",
    token=os.environ["QRUNTIME_TOKEN"],
    url=os.environ["QRUNTIME_URL"] + "/api",
    instance=os.environ["QRUNTIME_INSTANCE"],
)
names = sorted(backend.name for backend in service.backends())
simulators = sorted(backend.name for backend in service.backends(simulator=True))
least_busy = service.least_busy(simulator=False, min_num_qubits=5)
job = service.run(
    program_id="hello-world",
    inputs={"iterations": 1},
    options={"backend_name": "ibmq_qasm_simulator"},
    job_tags=["compat", "tagged"],
)
result = job.result()
tagged = service.jobs(job_tags=["tagged"], limit=10)
print(json.dumps({
    "backends": names,
    "simulators": simulators,
    "least_busy": least_busy.name,
    "least_busy_qubits": least_busy.configuration().n_qubits,
    "result": result,
    "tagged": [j.job_id() for j in tagged],
    "job_id": job.job_id(),
}))
