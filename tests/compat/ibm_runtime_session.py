"""A session of several jobs in qiskit-ibm-runtime 0.7.0, against a qruntime server.

Environment as for ibm_runtime_hello.py, plus QRUNTIME_BACKEND (a device emulator). Prints one
JSON line of what it saw.
"""

import json
import os

from qiskit_ibm_runtime import QiskitRuntimeService, Session

service = QiskitRuntimeService(
    channel="ibm_quantum",
    token=os.environ["QRUNTIME_TOKEN"],
    url=os.environ["QRUNTIME_URL"] + "/api",
    instance=os.environ["QRUNTIME_INSTANCE"],
)
with Session(service=service, backend=os.environ["QRUNTIME_BACKEND"]) as session:
    jobs = [session.run("hello-world", inputs={"iterations": 1}) for _ in range(3)]
    results = [job.result() for job in jobs]
    session_id = session.session_id
    session.close()
listed = service.jobs(session_id=session_id, limit=10)
print(json.dumps({
    "session_id": session_id,
    "jobs": [job.job_id() for job in jobs],
    "backends": [job.backend().name for job in jobs],
    "results": results,
    "listed": sorted(job.job_id() for job in listed),
}))
