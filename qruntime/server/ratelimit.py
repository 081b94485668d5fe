"""How fast one user may submit jobs and upload programs: a token bucket per user.

Each user's bucket holds up to ``burst`` tokens and refills at ``rate`` tokens a second;
submitting a job, uploading a program or replacing a program's source takes one. A user whose
bucket is empty is answered 429 with ``Retry-After``, the whole seconds until a token is back;
other users are not affected. A new bucket starts full, so a burst of ``burst`` requests always
goes through.

The buckets live in this server process: behind a balancer, each API server allows a user
``rate`` on its own. A limit on what a whole instance may hold queued is the instance's
``max_queued`` (``qruntime admin set-instance``).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from qruntime.server.errors import TooManyRequests

_MAX_BUCKETS = 10_000  # past this many users, full buckets (as good as new ones) are dropped


@dataclass
class _Bucket:
    tokens: float
    updated: float


class SubmissionRateLimit:
    """Per-user token buckets for job submissions and program uploads.

    ``rate`` None turns the limit off: :meth:`check` then never refuses. The service takes
    both numbers from its settings (``rate_limit``, ``rate_burst``), which say why the
    defaults are what they are.
    """

    def __init__(
        self,
        rate: float | None,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate is not None and not rate > 0:
            raise ValueError(f"the rate must be a positive number of requests a second, not {rate}")
        if burst < 1:
            raise ValueError(f"the burst must be at least 1 request, not {burst}")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[int, _Bucket] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate is not None

    def wait_before(self, user_id: int) -> float:
        """Take a token from the user's bucket and return 0, or, if it is empty, take nothing
        and return the seconds until a token is back."""
        rate = self.rate
        if rate is None:
            return 0.0
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(user_id)
            if bucket is None:
                if len(self._buckets) >= _MAX_BUCKETS:
                    self._drop_full_buckets(now, rate)
                bucket = self._buckets[user_id] = _Bucket(float(self.burst), now)
            else:
                elapsed = max(now - bucket.updated, 0.0)
                bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * rate)
                bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / rate

    def check(self, user_id: int) -> None:
        """Take a token for one submission or upload; :class:`TooManyRequests` if the user
        has none left, saying the limit and when to try again."""
        wait = self.wait_before(user_id)
        if wait <= 0:
            return
        retry_after = max(1, math.ceil(wait))
        raise TooManyRequests(
            f"Too many requests: each user may submit jobs and upload programs at "
            f"{self.rate:g} per second, in bursts of up to {self.burst}. "
            f"Try again in {retry_after} second{'s' if retry_after != 1 else ''} "
            "(the Retry-After header says the same).",
            retry_after,
        )

    def _drop_full_buckets(self, now: float, rate: float) -> None:
        self._buckets = {
            user_id: bucket
            for user_id, bucket in self._buckets.items()
            if bucket.tokens + (now - bucket.updated) * rate < self.burst
        }
