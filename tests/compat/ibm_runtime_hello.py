"""hello-world with a callback in qiskit-ibm-runtime 0.7.0, against a qruntime server.

Run inside the reference environment with QRUNTIME_URL, QRUNTIME_TOKEN and QRUNTIME_INSTANCE
(hub/group/project) set, and REQUESTS_CA_BUNDLE / WEBSOCKET_CLIENT_CA_BUNDLE naming the
server's certificate. Prints one JSON line of what it saw; exits non-zero on any failure.
"""

import json
import os
import threading

from qiskit_ibm_runtime import QiskitRuntimeService

service = QiskitRuntimeService(
    channel="ibm_quantum",
    token=os.environ["QRUNTIME_TOKEN"],
    url=os.environ["QRUNTIME_URL"] + "/api",
    instance=os.environ["QRUNTIME_INSTANCE"],
)
received = []
lock = threading.Lock()


def callback(job_id, message):
    with lock:
        received.append(message)


job = service.run(
    program_id="hello-world",
    inputs={"iterations": 3},
    options={"backend_name": "ibmq_qasm_simulator"},
    callback=callback,
)
result = job.result()
job.wait_for_final_state()
with lock:
    messages = list(received)
print(json.dumps({"job_id": job.job_id, "status": job.status().name, "result": result,
                  "callback": messages, "interim": job.interim_results()}, default=str))
