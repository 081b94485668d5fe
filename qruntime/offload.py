"""Blocking calls (the store's, decoding inputs) made from the event loop, in worker threads.

At most :data:`MAX_THREADS` run at once: the calls are short and mostly Python, so more threads
would only take turns on the interpreter lock, each turn costing more than the last.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from anyio.lowlevel import RunVar

MAX_THREADS = 4

_P = ParamSpec("_P")
_T = TypeVar("_T")
_limiter: RunVar[CapacityLimiter] = RunVar("qruntime_offload_limiter")


def _current_limiter() -> CapacityLimiter:
    try:
        return _limiter.get()
    except LookupError:
        limiter = CapacityLimiter(MAX_THREADS)
        _limiter.set(limiter)
        return limiter


async def offload(call: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """Run ``call(*args, **kwargs)`` in a worker thread and return what it returns."""
    return await anyio.to_thread.run_sync(
        functools.partial(call, *args, **kwargs), limiter=_current_limiter()
    )
