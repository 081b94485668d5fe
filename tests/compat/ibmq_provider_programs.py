"""qiskit-ibmq-provider 0.20.2 against a qruntime server: programs, jobs, errors, run_circuits.

Environment as for ibmq_provider_seed.py. Prints one JSON line of what it saw.
"""

import json
import os
import time
import uuid

from qiskit import IBMQ, QuantumCircuit
from qiskit.providers.ibmq import RunnerResult
from qiskit.providers.ibmq.runtime.exceptions import RuntimeJobFailureError

HUB, GROUP, PROJECT = (os.environ["QRUNTIME_" + key] for key in ("HUB", "GROUP", "PROJECT"))
IBMQ.enable_account(os.environ["QRUNTIME_TOKEN"], url=os.environ["QRUNTIME_URL"] + "/api",
                    hub=HUB, group=GROUP, project=PROJECT)
provider = IBMQ.get_provider(hub=HUB, group=GROUP, project=PROJECT)
seen = {}

# Upload, update, make public, delete a program.
SOURCE = '''
import time

def main(backend, user_messenger, seconds=0.0, fail=False):
    print("starting")
    if fail:
        raise ValueError("the program broke on purpose")
    time.sleep(seconds)
    user_messenger.publish({"slept": seconds})
    return {"slept": seconds}
'''
name = "compat-" + uuid.uuid4().hex[:8]
metadata = {"name": name, "description": "Sleeps, or fails on request.", "max_execution_time": 300,
            "spec": {"parameters": {"properties": {"seconds": {"type": "number"},
                                                    "fail": {"type": "boolean"}}}}}
with open("program.py", "w") as source_file:
    source_file.write(SOURCE)
program_id = provider.runtime.upload_program(data="program.py", metadata=metadata)
provider.runtime.update_program(program_id, description="Sleeps, or fails, on request.")
provider.runtime.set_program_visibility(program_id, True)
program = provider.runtime.program(program_id, refresh=True)
seen["program"] = {"id": program_id, "description": program.description,
                   "public": program.is_public}
seen["listed"] = program_id in [p.program_id for p in provider.runtime.programs(refresh=True)]

options = {"backend_name": "ibmq_qasm_simulator"}

# A failing program: its traceback through error_message().
failing = provider.runtime.run(program_id, options=options, inputs={"fail": True})
try:
    failing.result()
    seen["failure"] = None
except RuntimeJobFailureError as exc:
    seen["failure"] = str(exc)
seen["error_message"] = failing.error_message()
seen["logs"] = failing.logs()

# Cancel a running job.
sleeper = provider.runtime.run(program_id, options=options, inputs={"seconds": 120})
deadline = time.monotonic() + 120
while sleeper.status().name != "RUNNING" and time.monotonic() < deadline:
    time.sleep(0.2)
sleeper.cancel()
sleeper.wait_for_final_state(timeout=120)
seen["cancelled"] = sleeper.status().name

# More than 20 jobs, listed with pagination.
jobs = [provider.runtime.run(program_id, options=options, inputs={"seconds": 0}) for _ in range(22)]
for job in jobs:
    job.result()
listed = provider.runtime.jobs(limit=30, program_id=program_id)
seen["jobs_listed"] = len(listed)
seen["jobs_ours"] = len({job.job_id() for job in jobs} & {job.job_id() for job in listed})

# run_circuits with measurement error mitigation, and quasi-probabilities.
circuit = QuantumCircuit(3)
circuit.h(0)
circuit.cx(0, 1)
circuit.cx(1, 2)
circuit.measure_all()
runner = provider.run_circuits(circuit, backend_name="ibmq_bogota", shots=2048,
                               measurement_error_mitigation=True)
result = runner.result(decoder=RunnerResult)
quasi = result.get_quasiprobabilities()
seen["quasi"] = {key: float(value) for key, value in quasi.binary_probabilities().items()}
seen["mapping"] = result.results[0].header.final_measurement_mapping
seen["counts_total"] = sum(result.get_counts().values())

provider.runtime.delete_program(program_id)
seen["deleted"] = program_id not in [p.program_id for p in provider.runtime.programs(refresh=True)]
print(json.dumps(seen, default=str))
