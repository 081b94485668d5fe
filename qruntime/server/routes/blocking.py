"""Running the store's blocking calls off the event loop, with its errors as HTTP errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from qruntime.offload import offload
from qruntime.server.errors import APIError, Conflict, NotFound
from qruntime.store import errors as store_errors

_P = ParamSpec("_P")
_T = TypeVar("_T")

TOO_MANY_REQUESTS = 429


async def blocking(call: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """Run ``call`` in a worker thread; the store's refusals become 404, 409 or 429."""
    try:
        return await offload(call, *args, **kwargs)
    except store_errors.NotFound as exc:
        raise NotFound(str(exc)) from exc
    except store_errors.Conflict as exc:
        raise Conflict(str(exc)) from exc
    except store_errors.LimitExceeded as exc:
        raise APIError(TOO_MANY_REQUESTS, str(exc)) from exc
