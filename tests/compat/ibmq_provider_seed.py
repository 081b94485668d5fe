"""The seed's example, verbatim in qiskit-ibmq-provider 0.20.2, against a qruntime server.

Run inside the reference environment with QRUNTIME_URL, QRUNTIME_TOKEN, QRUNTIME_HUB/GROUP/
PROJECT set, and REQUESTS_CA_BUNDLE / WEBSOCKET_CLIENT_CA_BUNDLE naming the server's
certificate. Prints one JSON line of what it saw; exits non-zero on any failure.
"""

import json
import os

from qiskit import IBMQ, QuantumCircuit

IBMQ.enable_account(
    os.environ["QRUNTIME_TOKEN"],
    url=os.environ["QRUNTIME_URL"] + "/api",
    hub=os.environ["QRUNTIME_HUB"],
    group=os.environ["QRUNTIME_GROUP"],
    project=os.environ["QRUNTIME_PROJECT"],
)
provider = IBMQ.get_provider(
    hub=os.environ["QRUNTIME_HUB"],
    group=os.environ["QRUNTIME_GROUP"],
    project=os.environ["QRUNTIME_PROJECT"],
)

circuit = QuantumCircuit(3)
circuit.h(0)
circuit.cx(0, 1)
circuit.cx(1, 2)
circuit.measure_all()

# The seed's example, verbatim.
program_inputs = {'circuits': circuit, 'optimization_level': 3}
options = {'backend_name': "ibmq_bogota"}
job = provider.runtime.run(program_id="circuit-runner", options=options, inputs=program_inputs)

result = job.result()
counts = result["results"][0]["data"]["counts"]
print(json.dumps({"job_id": job.job_id(), "status": job.status().name, "counts": counts}))
