"""What every optimizer shares: the batched objective it minimizes, its result, its options.

A variational program spends its time running circuits, so an optimizer here asks for every point
a step needs at once (SPSA its two perturbed points, QN-SPSA those and four state overlaps) and the
objective evaluates the whole batch with one ``backend.run``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from numbers import Integral, Real
from typing import Any, ClassVar, Protocol, Self

import numpy as np
from numpy.typing import NDArray

Point = NDArray[np.float64]
"""Values of the parameters, in the order of the circuit's ``parameters``."""


@dataclass(frozen=True)
class Batch:
    """The objective's answer for one batch of points and overlaps.

    ``values[i]`` and ``stds[i]`` are the estimate at ``points[i]`` and its standard deviation;
    ``overlaps[j]`` is the fidelity ``|<ψ(x)|ψ(y)>|²`` of the ``j``-th pair ``(x, y)``.
    """

    values: NDArray[np.float64]
    stds: NDArray[np.float64]
    overlaps: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))


class BatchObjective(Protocol):
    """A function to minimize, evaluated a batch of points at a time."""

    def __call__(
        self, points: Sequence[Point], overlaps: Sequence[tuple[Point, Point]] = ()
    ) -> Batch:
        """Evaluate at every point, and the state fidelity of every pair, in one go."""
        ...


@dataclass(frozen=True)
class OptimizerResult:
    """Where an optimizer stopped.

    ``nit`` counts its iterations, ``nfev`` the points it had evaluated (calibration included).
    """

    x: Point
    nit: int
    nfev: int
    message: str = ""


class OptionError(ValueError):
    """An optimizer option is wrong; the message says which and what is allowed."""


OptionCheck = Callable[[str, Any], Any]
"""Checks the value of an option and returns it converted; raises :class:`OptionError`."""


class Optimizer(ABC):
    """An optimizer of a :class:`BatchObjective`, built from its options.

    Subclasses are frozen dataclasses: their fields are the options. ``checks`` converts and
    checks each option given by name; ``accepted_defaults`` lists options that old Qiskit
    optimizers sent in their settings (``callback``, ``max_evals_grouped``, ...) and that are
    accepted only with a value that changes nothing.
    """

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    checks: ClassVar[Mapping[str, OptionCheck]] = {}
    accepted_defaults: ClassVar[Mapping[str, Callable[[Any], bool]]] = {}

    @abstractmethod
    def minimize(
        self, objective: BatchObjective, x0: Point, rng: np.random.Generator
    ) -> OptimizerResult:
        """Minimize ``objective`` from ``x0``; ``rng`` draws every random number used."""

    @property
    def uses_overlaps(self) -> bool:
        """Whether the optimizer asks the objective for state overlaps (QN-SPSA's metric)."""
        return False

    @property
    def settings(self) -> dict[str, Any]:
        """The options, as the ``settings`` that IBM's wire format sends for an optimizer."""
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Self:
        """Build the optimizer from options given by name; :class:`OptionError` if one is bad."""
        known: dict[str, Any] = {}
        for key, value in options.items():
            if key in cls.checks:
                known[key] = cls.checks[key](key, value)
            elif key in cls.accepted_defaults:
                if not cls.accepted_defaults[key](value):
                    raise OptionError(
                        f"{cls.name} option {key}={value!r} is not supported here; leave it out"
                    )
            else:
                raise OptionError(
                    f"{cls.name} has no option {key!r}; its options are: "
                    + ", ".join(sorted(cls.checks))
                )
        try:
            return cls(**known)
        except OptionError:
            raise
        except (TypeError, ValueError) as error:
            raise OptionError(f"{cls.name}: {error}") from error


# -- checks of option values, shared by the optimizers --------------------------------------


def positive_int(key: str, value: Any) -> int:
    """A whole number of at least 1."""
    if isinstance(value, bool) or not isinstance(value, Integral | Real):
        raise OptionError(f"{key} must be a whole number at least 1, not {value!r}")
    if not float(value).is_integer() or value < 1:
        raise OptionError(f"{key} must be a whole number at least 1, not {value!r}")
    return int(float(value))


def optional_positive_int(key: str, value: Any) -> int | None:
    """None, or a whole number of at least 1."""
    return None if value is None else positive_int(key, value)


def non_negative_int(key: str, value: Any) -> int:
    """A whole number of at least 0."""
    if value == 0 and not isinstance(value, bool):
        return 0
    return positive_int(key, value)


def positive_float(key: str, value: Any) -> float:
    """A finite number greater than 0."""
    number = finite_float(key, value)
    if number <= 0:
        raise OptionError(f"{key} must be greater than 0, not {value!r}")
    return number


def optional_positive_float(key: str, value: Any) -> float | None:
    """None, or a finite number greater than 0."""
    return None if value is None else positive_float(key, value)


def non_negative_float(key: str, value: Any) -> float:
    """A finite number of at least 0."""
    number = finite_float(key, value)
    if number < 0:
        raise OptionError(f"{key} must be at least 0, not {value!r}")
    return number


def optional_non_negative_float(key: str, value: Any) -> float | None:
    """None, or a finite number of at least 0."""
    return None if value is None else non_negative_float(key, value)


def finite_float(key: str, value: Any) -> float:
    """A finite real number."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise OptionError(f"{key} must be a number, not {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise OptionError(f"{key} must be a finite number, not {value!r}")
    return number


def flag(key: str, value: Any) -> bool:
    """True or false."""
    if not isinstance(value, bool | np.bool_):
        raise OptionError(f"{key} must be true or false, not {value!r}")
    return bool(value)


def is_none(value: Any) -> bool:
    """Accept only None (a callable that the wire format turned into null)."""
    return value is None


def anything(value: Any) -> bool:
    """Accept any value (an option that means nothing here)."""
    return True
