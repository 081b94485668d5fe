"""Optimizers of the variational programs (vqe, qaoa): SPSA, QN-SPSA, COBYLA, L-BFGS-B.

Qiskit 2 has no ``qiskit.algorithms``; these take their options, with the same names and defaults,
so that what IBM's clients sent still means the same. A program's ``optimizer`` input is one of:

* an optimizer object of this module, such as ``SPSA(maxiter=100)`` (it travels as its settings);
* a dict ``{"name": "SPSA", "maxiter": 100, ...}`` (names: ``SPSA``, ``QN-SPSA``, ``COBYLA``,
  ``L-BFGS-B``, in any case);
* the settings of Qiskit's own ``SPSA``, ``QNSPSA``, ``COBYLA`` or ``L_BFGS_B``, which IBM's
  clients sent for an optimizer object and which arrive decoded as such a dict.

Every optimizer asks for the points of a step at once (see :class:`BatchObjective`), which a
program evaluates with one ``backend.run``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qruntime.algorithms.optimizers.base import (
    Batch,
    BatchObjective,
    Optimizer,
    OptimizerResult,
    OptionError,
    Point,
)
from qruntime.algorithms.optimizers.scipy_methods import COBYLA, LBFGSB
from qruntime.algorithms.optimizers.spsa import QNSPSA, SPSA

__all__ = [
    "COBYLA",
    "LBFGSB",
    "OPTIMIZERS",
    "QNSPSA",
    "SPSA",
    "Batch",
    "BatchObjective",
    "Optimizer",
    "OptimizerResult",
    "OptionError",
    "Point",
    "load_optimizer",
]

OPTIMIZERS: dict[str, type[Optimizer]] = {cls.name: cls for cls in (SPSA, QNSPSA, COBYLA, LBFGSB)}
"""The optimizers by name."""


def _key(name: str) -> str:
    return name.replace("-", "").replace("_", "").upper()


_BY_KEY = {_key(alias): cls for cls in OPTIMIZERS.values() for alias in (cls.name, *cls.aliases)}


def load_optimizer(value: Any, default: Optimizer) -> Optimizer:
    """The optimizer a program input names: an object, ``{"name": ..., options}`` or None.

    Raises:
        OptionError: the name is not known, or an option is not one of the optimizer's or has a
            value it does not allow; the message names it and what is allowed.
    """
    if value is None:
        return default
    if isinstance(value, Optimizer):
        return value
    if not isinstance(value, Mapping):
        raise OptionError(
            "optimizer must be an optimizer object or a dict {'name': ..., options}, not "
            f"{type(value).__name__}"
        )
    options = dict(value)
    name = options.pop("name", None)
    if not isinstance(name, str):
        raise OptionError(
            "optimizer needs a 'name': one of " + ", ".join(OPTIMIZERS) + f"; got {name!r}"
        )
    cls = _BY_KEY.get(_key(name))
    if cls is None:
        raise OptionError(f"optimizer {name!r} is not known; use one of: " + ", ".join(OPTIMIZERS))
    return cls.from_options(options)
