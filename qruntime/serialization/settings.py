"""Objects rebuilt from their ``settings``, and the allowlist that guards them.

IBM's encoder sends any object with a ``settings`` property as::

    {"__type__": "settings", "__module__": "qiskit.quantum_info.operators.symplectic.pauli",
     "__class__": "Pauli", "__value__": {"data": "XZ"}}

and IBM's 2021 decoder imported whatever module the payload named and called the class with the
settings. This decoder rebuilds only classes on an allowlist, each through a factory called as
``factory(**settings)``: the Qiskit operators and states by default, plus the operators of
``qiskit.opflow`` (removed in Qiskit 1.0), which become the equivalent ``SparsePauliOp``, and the
optimizers that the vqe and qaoa programs take (Qiskit's SPSA, QNSPSA, COBYLA, L_BFGS_B and
qruntime's own), which become a dict ``{"name": ..., **settings}``. More classes are allowed
with :func:`register_settings_class`.

Dict keys that are integers become strings in JSON, so the encoder flags such dicts with
``"__int_keys__": true`` and the decoder turns their keys back into integers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from qiskit.quantum_info import (
    PTM,
    Chi,
    Choi,
    DensityMatrix,
    Kraus,
    Operator,
    Pauli,
    PauliList,
    SparsePauliOp,
    Statevector,
    Stinespring,
    SuperOp,
)

SettingsFactory = Callable[..., Any]
"""Builds an object from its settings: called as ``factory(**settings)``. A class is one."""

_INT_KEYS_FLAG = "__int_keys__"


def register_settings_class(module: str, name: str, factory: SettingsFactory) -> None:
    """Allow ``settings`` payloads naming class ``name`` of ``module`` to be decoded.

    The decoder will call ``factory(**settings)``, where the settings have already been decoded.
    ``module`` is the ``__module__`` the encoding client writes, i.e. the module that defines the
    class (for example ``"qiskit_algorithms.optimizers.spsa"``, ``"SPSA"``, ``SPSA``).
    Registering a pair again replaces its factory.
    """
    _ALLOWLIST[(module, name)] = factory


def allowed_settings_classes() -> list[str]:
    """The classes that ``settings`` payloads may name, as ``module.Class``, sorted."""
    return sorted(f"{module}.{name}" for module, name in _ALLOWLIST)


def encode_settings(obj: Any) -> dict[str, Any]:
    """An object with ``settings`` -> IBM's ``settings`` envelope, int keys flagged."""
    return {
        "__type__": "settings",
        "__module__": type(obj).__module__,
        "__class__": type(obj).__name__,
        "__value__": _flag_int_keys(obj.settings),
    }


def decode_settings(value: Any, envelope: Mapping[str, Any]) -> Any:
    """Rebuild an allowlisted object from its (already decoded) settings."""
    module, name = envelope.get("__module__"), envelope.get("__class__")
    if not isinstance(module, str) or not isinstance(name, str):
        raise ValueError('a settings object needs "__module__" and "__class__" strings')
    factory = _ALLOWLIST.get((module, name))
    if factory is None:
        raise ValueError(
            f"class {module}.{name} is not on the allowlist of classes that may be rebuilt from "
            f"settings; allowed: {_describe_allowlist()}. A server operator can allow more with "
            "qruntime.serialization.register_settings_class()"
        )
    if not isinstance(value, dict):
        raise ValueError(f"the settings of {name} must be an object, got {type(value).__name__}")
    settings = _cast_int_keys(value)
    try:
        return factory(**settings)
    except TypeError as exc:
        raise ValueError(
            f"{name} cannot be built from settings {sorted(settings)} ({exc})"
        ) from exc


def _flag_int_keys(value: Any) -> Any:
    # Like IBM's encoder, only dicts nested in dicts are visited; new dicts are made only there.
    if not isinstance(value, dict):
        return value
    flagged = {key: _flag_int_keys(item) for key, item in value.items()}
    if any(isinstance(key, int) for key in value):
        flagged[_INT_KEYS_FLAG] = True
    return flagged


def _cast_int_keys(value: dict[Any, Any]) -> dict[Any, Any]:
    has_int_keys = value.get(_INT_KEYS_FLAG) is True
    result: dict[Any, Any] = {}
    for key, item in value.items():
        if key == _INT_KEYS_FLAG:
            continue
        if has_int_keys:
            key = _int_or_same(key)
        result[key] = _cast_int_keys(item) if isinstance(item, dict) else item
    return result


def _int_or_same(key: Any) -> Any:
    try:
        return int(key)
    except (TypeError, ValueError):
        return key


def _describe_allowlist() -> str:
    # One entry per class, under its shortest module name, to keep the message readable.
    shortest: dict[str, str] = {}
    for module, name in _ALLOWLIST:
        if name not in shortest or len(module) < len(shortest[name]):
            shortest[name] = module
    return ", ".join(sorted(f"{module}.{name}" for name, module in shortest.items()))


def _pauli_sum_op(primitive: Any, coeff: Any = 1.0, grouping_type: Any = None) -> SparsePauliOp:
    """``qiskit.opflow.PauliSumOp`` -> ``primitive * coeff``."""
    return _times(_sparse_pauli_op(primitive), coeff)


def _pauli_op(primitive: Any, coeff: Any = 1.0) -> SparsePauliOp:
    """``qiskit.opflow.PauliOp`` -> ``SparsePauliOp(primitive) * coeff``."""
    return _times(_sparse_pauli_op(primitive), coeff)


def _summed_op(oplist: Any, coeff: Any = 1.0, abelian: Any = False) -> SparsePauliOp:
    """``qiskit.opflow.SummedOp`` of Pauli operators -> their sum times ``coeff``."""
    if not isinstance(oplist, list) or not oplist:
        raise ValueError("a SummedOp needs a non-empty list of operators")
    return _times(SparsePauliOp.sum([_sparse_pauli_op(op) for op in oplist]), coeff)


def _sparse_pauli_op(operator: Any) -> SparsePauliOp:
    if isinstance(operator, SparsePauliOp):
        return operator
    if isinstance(operator, Pauli):
        return SparsePauliOp(operator)
    raise ValueError(
        f"only Pauli operators can be converted from qiskit.opflow, got {type(operator).__name__}"
    )


def _times(operator: SparsePauliOp, coeff: Any) -> SparsePauliOp:
    if isinstance(coeff, int | float | complex) and coeff == 1:
        return operator
    product: SparsePauliOp = operator * coeff
    return product


_OPTIMIZER_CLASSES = (
    # Qiskit Terra 0.2x, whose optimizers IBM's clients sent, and qiskit-algorithms after it.
    ("qiskit.algorithms.optimizers.spsa", "SPSA", "SPSA"),
    ("qiskit.algorithms.optimizers.qnspsa", "QNSPSA", "QN-SPSA"),
    ("qiskit.algorithms.optimizers.cobyla", "COBYLA", "COBYLA"),
    ("qiskit.algorithms.optimizers.l_bfgs_b", "L_BFGS_B", "L-BFGS-B"),
    ("qiskit_algorithms.optimizers.spsa", "SPSA", "SPSA"),
    ("qiskit_algorithms.optimizers.qnspsa", "QNSPSA", "QN-SPSA"),
    ("qiskit_algorithms.optimizers.cobyla", "COBYLA", "COBYLA"),
    ("qiskit_algorithms.optimizers.l_bfgs_b", "L_BFGS_B", "L-BFGS-B"),
    # qruntime's own (qruntime.algorithms.optimizers).
    ("qruntime.algorithms.optimizers.spsa", "SPSA", "SPSA"),
    ("qruntime.algorithms.optimizers.spsa", "QNSPSA", "QN-SPSA"),
    ("qruntime.algorithms.optimizers.scipy_methods", "COBYLA", "COBYLA"),
    ("qruntime.algorithms.optimizers.scipy_methods", "LBFGSB", "L-BFGS-B"),
)
"""Optimizer classes (module, class, optimizer name) whose settings the programs take as input."""


def _optimizer_settings(name: str) -> SettingsFactory:
    """An optimizer's settings -> ``{"name": name, **settings}``, as the programs read them.

    No optimizer object is built: vqe and qaoa check the options themselves, and the classes of
    the clients (Qiskit's) do not exist in Qiskit 2.
    """

    def factory(**settings: Any) -> dict[str, Any]:
        return {"name": name, **settings}

    return factory


def _default_allowlist() -> dict[tuple[str, str], SettingsFactory]:
    allowlist: dict[tuple[str, str], SettingsFactory] = {}
    for cls in (
        SparsePauliOp,
        Pauli,
        PauliList,
        Statevector,
        DensityMatrix,
        Operator,
        Choi,
        SuperOp,
        Kraus,
        Stinespring,
        Chi,
        PTM,
    ):
        allowlist[(cls.__module__, cls.__name__)] = cls
        allowlist[("qiskit.quantum_info", cls.__name__)] = cls
    for module, name, factory in (
        ("qiskit.opflow.primitive_ops.pauli_sum_op", "PauliSumOp", _pauli_sum_op),
        ("qiskit.opflow.primitive_ops.pauli_op", "PauliOp", _pauli_op),
        ("qiskit.opflow.list_ops.summed_op", "SummedOp", _summed_op),
    ):
        allowlist[(module, name)] = factory
        allowlist[("qiskit.opflow", name)] = factory
    for module, name, optimizer in _OPTIMIZER_CLASSES:
        allowlist[(module, name)] = _optimizer_settings(optimizer)
    return allowlist


_ALLOWLIST = _default_allowlist()
