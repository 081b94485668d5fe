"""qruntime: a self-hostable Qiskit Runtime."""

__version__ = "0.1.0"
