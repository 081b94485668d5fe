"""The backend catalogue: backend names -> Qiskit backends and their IBM configuration JSON.

Simulators under IBM's names (``ibmq_qasm_simulator``, ``simulator_statevector``, ...), an
emulator of every device whose calibration snapshot qiskit-ibm-runtime ships (``ibmq_bogota``,
``ibm_brisbane``, ...), and backends other distributions add through the ``qruntime.backends``
entry-point group::

    from qruntime.backends import default_catalogue

    catalogue = default_catalogue()
    backend = catalogue.get("ibmq_bogota")      # a ProgramBackend, as main() receives it
    catalogue.configuration("ibmq_bogota")      # IBM's configuration JSON for the clients
"""

from qruntime.backends.catalogue import BackendCatalogue, default_catalogue
from qruntime.backends.emulators import DeviceEmulator, DeviceSnapshot, EmulatorSource
from qruntime.backends.plugins import ENTRY_POINT_GROUP, PluginSource
from qruntime.backends.simulators import SIMULATORS, SimulatorSource, SimulatorSpec
from qruntime.backends.source import BackendInfo, BackendKind, BackendSource

__all__ = [
    "ENTRY_POINT_GROUP",
    "SIMULATORS",
    "BackendCatalogue",
    "BackendInfo",
    "BackendKind",
    "BackendSource",
    "DeviceEmulator",
    "DeviceSnapshot",
    "EmulatorSource",
    "PluginSource",
    "SimulatorSource",
    "SimulatorSpec",
    "default_catalogue",
]
