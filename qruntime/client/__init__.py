"""The Python client of a qruntime service, with the API of IBM's Qiskit Runtime clients.

    from qruntime import RuntimeProvider
    provider = RuntimeProvider(url="https://127.0.0.1:8443", token=TOKEN)
    job = provider.runtime.run(program_id="hello-world", inputs={"iterations": 2},
                               options={"backend_name": "ibmq_qasm_simulator"})
    job.result()

Layers: ``rest`` (URLs and HTTP) -> ``api`` (operations; HTTP codes become the exceptions of
``errors``) -> ``RuntimeService``, ``RuntimeJob``, ``RuntimeProgram``.
"""

from qruntime.client.decoder import ResultDecoder
from qruntime.client.errors import (
    NotAuthorizedError,
    RuntimeClientError,
    RuntimeDuplicateProgramError,
    RuntimeInvalidStateError,
    RuntimeJobFailureError,
    RuntimeJobMaxTimeoutError,
    RuntimeJobNotFound,
    RuntimeJobTimeoutError,
    RuntimeProgramNotFound,
    RuntimeRequestError,
)
from qruntime.client.job import RuntimeJob
from qruntime.client.options import RuntimeOptions
from qruntime.client.program import ParameterNamespace, RuntimeProgram
from qruntime.client.provider import RuntimeProvider
from qruntime.client.service import RuntimeService

__all__ = [
    "NotAuthorizedError",
    "ParameterNamespace",
    "ResultDecoder",
    "RuntimeClientError",
    "RuntimeDuplicateProgramError",
    "RuntimeInvalidStateError",
    "RuntimeJob",
    "RuntimeJobFailureError",
    "RuntimeJobMaxTimeoutError",
    "RuntimeJobNotFound",
    "RuntimeJobTimeoutError",
    "RuntimeOptions",
    "RuntimeProgram",
    "RuntimeProgramNotFound",
    "RuntimeProvider",
    "RuntimeRequestError",
    "RuntimeService",
]
