"""Rate limits as GCRA buckets, in Redis (shared by instances) or in this process; a negative cost
gives hits back. Places a login succeeded from are remembered here too (`remember` / `known`)."""

from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gamehub.errors import ApiError
from gamehub.redis_pool import redis_client

log = logging.getLogger(__name__)

PREFIX = "gamehub:limit:"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RULE = re.compile(r"\s*([0-9]{1,9})\s*/\s*([0-9]{0,9})\s*([smhd])\s*", re.ASCII)


class RateLimited(ApiError):
    status, code, message = 429, "rate_limited", "Too many attempts; wait and try again."

    @classmethod
    def after(cls, seconds: float) -> RateLimited:
        retry = max(1, math.ceil(seconds))
        return cls(headers={"Retry-After": str(retry)}, details={"retry_after": retry})


@dataclass(frozen=True)
class Rule:
    """`limit` hits per `period_s` seconds, all of them at once if saved up."""

    limit: int
    period_s: float

    @classmethod
    def parse(cls, text: str) -> Rule:
        """`"10/15m"`, `"500/h"`, `"30/1m"` (units s, m, h, d); ValueError otherwise."""
        found = _RULE.fullmatch(text)
        if found is None:
            raise ValueError(text)
        limit, count = int(found.group(1)), int(found.group(2) or 1)
        if limit < 1 or count < 1:
            raise ValueError(text)
        return cls(limit, count * _UNITS[found.group(3)])

    @property
    def interval_s(self) -> float:
        return self.period_s / self.limit

    def __str__(self) -> str:
        return f"{self.limit}/{self.period_s:g}s"


class Limiter(Protocol):
    async def hit(self, key: str, rule: Rule, cost: int = 1) -> float | None:
        """Count `cost` hits on `key` (negative: give back): None if allowed, else the seconds
        to wait (nothing counted)."""
        ...

    async def remember(self, key: str, ttl_s: float) -> None:
        """Note `key` (e.g. an address an account logged in from) for `ttl_s` seconds."""
        ...

    async def known(self, key: str) -> bool: ...

    async def close(self) -> None: ...


def gcra(tat: float, now: float, rule: Rule, cost: int) -> tuple[float, float | None]:
    """The bucket's new full-again time, and None or the wait when the hit is refused."""
    tat = max(tat, now)
    new_tat = tat + cost * rule.interval_s
    if cost > 0 and new_tat - rule.period_s > now:
        return tat, new_tat - rule.period_s - now
    return max(new_tat, now), None


class MemoryLimiter:
    """This process's buckets (the clock is monotonic); bounded under a flood of keys."""

    def __init__(self, max_keys: int = 200_000) -> None:
        self.max_keys = max_keys
        self._tats: dict[str, float] = {}
        self._known: dict[str, float] = {}

    async def hit(self, key: str, rule: Rule, cost: int = 1) -> float | None:
        now = time.monotonic()
        tat, wait = gcra(self._tats.get(key, now), now, rule, cost)
        if tat <= now:
            self._tats.pop(key, None)  # full again: nothing to keep
        else:
            self._tats[key] = tat
            if len(self._tats) > self.max_keys:
                self._tats = _unexpired(self._tats, now, self.max_keys)
        return wait

    async def remember(self, key: str, ttl_s: float) -> None:
        now = time.monotonic()
        self._known[key] = now + ttl_s
        if len(self._known) > self.max_keys:
            self._known = _unexpired(self._known, now, self.max_keys)

    async def known(self, key: str) -> bool:
        return self._known.get(key, 0.0) > time.monotonic()

    async def close(self) -> None:
        return None


def _unexpired(times: dict[str, float], now: float, max_keys: int) -> dict[str, float]:
    """Drop what has expired; if still too many, the half that expires soonest."""
    kept = {key: until for key, until in times.items() if until > now}
    if len(kept) > max_keys:
        latest = sorted(kept.items(), key=lambda item: item[1])[len(kept) // 2 :]
        kept = dict(latest)
    return kept


# `gcra` on Redis's own clock (instances' clocks may disagree): the wait in µs, or -1 if allowed.
_HIT_SCRIPT = """
local now_s, now_us = unpack(redis.call('TIME'))
local now = tonumber(now_s) * 1000000 + tonumber(now_us)
local interval = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + cost * interval
if cost > 0 and new_tat - period > now then
  return new_tat - period - now
end
if new_tat <= now then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
end
return -1
"""


class RedisLimiter:
    """Buckets shared by every instance. Without Redis, limits let requests through (logged):
    rooms and streams are down then anyway, and logins should not all fail."""

    def __init__(self, url: str) -> None:
        self.redis: Redis = redis_client(url)
        self._hit = self.redis.register_script(_HIT_SCRIPT)

    async def hit(self, key: str, rule: Rule, cost: int = 1) -> float | None:
        interval_us = max(1, round(rule.interval_s * 1_000_000))
        period_us = interval_us * rule.limit
        try:
            wait = int(await self._hit(keys=[PREFIX + key], args=[interval_us, period_us, cost]))
        except RedisError as error:
            log.warning("rate limit %s not checked: Redis: %s", rule, error)
            return None
        return None if wait < 0 else wait / 1_000_000

    async def remember(self, key: str, ttl_s: float) -> None:
        try:
            await self.redis.set(PREFIX + "known:" + key, "1", px=max(1, round(ttl_s * 1000)))
        except RedisError as error:
            log.warning("login place not remembered: Redis: %s", error)

    async def known(self, key: str) -> bool:
        try:
            return bool(await self.redis.exists(PREFIX + "known:" + key))
        except RedisError as error:
            log.warning("login place not looked up: Redis: %s", error)
            return False

    async def close(self) -> None:
        await self.redis.aclose()


def create_limiter(redis_url: str | None) -> Limiter:
    return MemoryLimiter() if redis_url is None else RedisLimiter(redis_url)
