"""Algorithms for users of the built-in programs: what they build inputs with and read results with.

Quantum kernel alignment (the ``quantum-kernel-alignment`` program): :class:`FeatureMap`,
:class:`KernelMatrix` to build kernels of new data with aligned parameters, the SVM that
classifies with them, and the "labeling cosets with error" data of the tutorial.

The variational programs (``vqe``, ``qaoa``): :mod:`qruntime.algorithms.optimizers` (SPSA, QN-SPSA,
COBYLA, L-BFGS-B, whose objects can be passed as the ``optimizer`` input) and
:mod:`qruntime.algorithms.expectation` (operators measured in qubit-wise commuting groups).
"""

from qruntime.algorithms.datasets import CosetsDataset, labeling_cosets, load_csv, save_csv
from qruntime.algorithms.feature_map import FeatureMap
from qruntime.algorithms.kernel import KernelMatrix, computes_exactly
from qruntime.algorithms.svm import SVMSolution, balanced_accuracy, solve_svm_dual

__all__ = [
    "CosetsDataset",
    "FeatureMap",
    "KernelMatrix",
    "SVMSolution",
    "balanced_accuracy",
    "computes_exactly",
    "labeling_cosets",
    "load_csv",
    "save_csv",
    "solve_svm_dual",
]
