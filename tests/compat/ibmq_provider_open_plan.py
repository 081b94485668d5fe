"""qiskit-ibmq-provider 0.20.2 as a user whose only instance is ibm-q/open/main.

Environment as for ibmq_provider_seed.py (without the hub variables). Prints one JSON line.
"""

import json
import os

from qiskit import IBMQ
from qiskit.providers.ibmq.exceptions import IBMQNotAuthorizedError

provider = IBMQ.enable_account(os.environ["QRUNTIME_TOKEN"],
                               url=os.environ["QRUNTIME_URL"] + "/api")
seen = {"hgp": [provider.credentials.hub, provider.credentials.group, provider.credentials.project],
        "backends": sorted(backend.name() for backend in provider.backends())}
with open("program.py", "w") as source_file:
    source_file.write("def main(backend, user_messenger):\n    return 1\n")
try:
    metadata = {"name": "not-allowed", "description": "d", "max_execution_time": 60}
    provider.runtime.upload_program(data="program.py", metadata=metadata)
    seen["upload"] = "accepted"
except IBMQNotAuthorizedError as exc:
    seen["upload"] = "not authorized: " + str(exc)
job = provider.runtime.run("hello-world", options={"backend_name": "ibmq_qasm_simulator"},
                           inputs={"iterations": 1})
seen["simulator_result"] = job.result()
print(json.dumps(seen))
