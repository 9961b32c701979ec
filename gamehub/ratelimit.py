"""A small in-process sliding-window limiter (per instance) for login and registration."""

from __future__ import annotations

import math
import time
from collections import defaultdict, deque

from gamehub.errors import ApiError


class RateLimited(ApiError):
    status, code, message = 429, "rate_limited", "Too many attempts; wait and try again."


class SlidingWindow:
    def __init__(self, limit: int, window_s: float = 60.0) -> None:
        self.limit = limit
        self.window_s = window_s
        self._hits: dict[str, deque[float]] = defaultdict(deque)

    def hit(self, key: str, now: float | None = None) -> None:
        """Count one attempt for `key`, or raise RateLimited with Retry-After when over."""
        now = time.monotonic() if now is None else now
        hits = self._hits[key]
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        if len(hits) >= self.limit:
            retry = max(1, math.ceil(hits[0] + self.window_s - now))
            raise RateLimited(headers={"Retry-After": str(retry)}, details={"retry_after": retry})
        hits.append(now)
        if len(self._hits) > 100_000:
            # Bounded memory under a flood of distinct keys: forget the stalest half.
            for stale in list(self._hits)[: len(self._hits) // 2]:
                del self._hits[stale]
