"""Max execution time: the program's, capped by IBM's system limits."""

from __future__ import annotations

import pytest

from qruntime.execution.limits import max_execution_time, system_cap


@pytest.mark.parametrize(
    ("plan", "simulator", "public", "cap"),
    [
        ("premium", True, True, 3 * 3600),
        ("open", True, False, 3600),
        ("premium", False, False, 8 * 3600),
        ("open", False, True, 4 * 3600),
        ("open", False, False, 2 * 3600),
    ],
)
def test_system_caps(plan: str, simulator: bool, public: bool, cap: int) -> None:
    assert system_cap(plan, simulator, public) == cap  # type: ignore[arg-type]


def test_the_least_limit_wins() -> None:
    assert max_execution_time(14400, "open", True, True) == 3600
    assert max_execution_time(300, "premium", False, False) == 300
    assert max_execution_time(14400, "premium", True, True, requested=60) == 60
    assert max_execution_time(100, "premium", True, True, requested=6000) == 100
