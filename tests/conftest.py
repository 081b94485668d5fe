"""Fixtures shared by the test modules."""

from __future__ import annotations

import pytest

from qruntime.backends import BackendCatalogue

SIMULATOR_NAMES = [
    "ibmq_qasm_simulator",
    "simulator_statevector",
    "simulator_mps",
    "simulator_stabilizer",
    "simulator_extended_stabilizer",
]
"""IBM's simulator names, in the order the catalogue lists them."""


@pytest.fixture(scope="module")
def catalogue() -> BackendCatalogue:
    """A catalogue of its own for a test module (the process-wide one stays untouched)."""
    return BackendCatalogue()
