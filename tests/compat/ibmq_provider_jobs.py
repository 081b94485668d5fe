"""qiskit-ibmq-provider 0.20.2 against a qruntime server: callbacks, streaming, job lookup and
deletion, pprint_programs, and a job past its max execution time.

Environment as for ibmq_provider_seed.py. Prints one JSON line of what it saw.
"""

import io
import json
import os
import threading
import time
import uuid
from contextlib import redirect_stdout

from qiskit import IBMQ
from qiskit.providers.ibmq.runtime.exceptions import RuntimeJobFailureError, RuntimeJobNotFound

HUB, GROUP, PROJECT = (os.environ["QRUNTIME_" + key] for key in ("HUB", "GROUP", "PROJECT"))
IBMQ.enable_account(os.environ["QRUNTIME_TOKEN"], url=os.environ["QRUNTIME_URL"] + "/api",
                    hub=HUB, group=GROUP, project=PROJECT)
provider = IBMQ.get_provider(hub=HUB, group=GROUP, project=PROJECT)
options = {"backend_name": "ibmq_qasm_simulator"}
seen = {}

# run() with a callback: every interim result in order, then the final result.
received = []
lock = threading.Lock()


def callback(job_id, message):
    with lock:
        received.append(message)


job = provider.runtime.run("hello-world", options=options, inputs={"iterations": 3},
                           callback=callback)
seen["result"] = job.result()
deadline = time.monotonic() + 60
while len(received) < 4 and time.monotonic() < deadline:
    time.sleep(0.05)
with lock:
    seen["callback"] = list(received)

# stream_results() on a job already running, then cancel_result_streaming().
streamed = []
later = provider.runtime.run("hello-world", options=options, inputs={"iterations": 2})
later.stream_results(lambda job_id, message: streamed.append(message))
seen["later"] = later.result()
later.cancel_result_streaming()

# job() and delete_job().
again = provider.runtime.job(job.job_id())
seen["job_program"] = again.program_id
seen["job_status"] = again.status().name
provider.runtime.delete_job(job.job_id())
try:
    provider.runtime.job(job.job_id())
    seen["deleted"] = False
except RuntimeJobNotFound:
    seen["deleted"] = True

# pprint_programs() shows the built-in programs.
out = io.StringIO()
with redirect_stdout(out):
    provider.runtime.pprint_programs(refresh=True)
seen["pprint"] = out.getvalue()

# A program past its max execution time.
name = "slow-" + uuid.uuid4().hex[:8]
with open("slow.py", "w") as source_file:
    source_file.write("import time\n\ndef main(backend, user_messenger):\n"
                      "    time.sleep(60)\n    return 'too late'\n")
slow_id = provider.runtime.upload_program(
    data="slow.py", metadata={"name": name, "description": "Sleeps a minute.",
                              "max_execution_time": 2})
slow = provider.runtime.run(slow_id, options=options, inputs={})
try:
    slow.result()
    seen["too_long"] = "finished"
except RuntimeJobFailureError as exc:
    seen["too_long"] = str(exc)
seen["too_long_status"] = slow.status().name
provider.runtime.delete_program(slow_id)
print(json.dumps(seen, default=str))
