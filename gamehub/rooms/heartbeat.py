"""Keep-alive timing for idle streams: one timer for all of them, waking them in slices."""

from __future__ import annotations

import asyncio

from gamehub.rooms.broker import Subscription

# A stream's keep-alive comes due between (SLICES - 1) / SLICES of the interval and the whole
# interval after it started waiting.
SLICES = 8


class Heartbeat:
    """Wakes each subscription that has waited about `interval` seconds, for a keep-alive. One
    timer for all (one each cost several hundred bytes per idle stream), ticking every interval /
    SLICES and waking one bucket of a ring: one beat for everyone made a burst in which no command
    ran."""

    def __init__(self, interval: float, loop: asyncio.AbstractEventLoop) -> None:
        self.interval = interval
        self.loop = loop
        self._ring: list[set[Subscription]] = [set() for _ in range(SLICES)]
        self._hand = 0  # the bucket the last tick woke: it comes round again in one interval
        self._timer: asyncio.TimerHandle | None = None

    @property
    def waiting(self) -> int:
        return sum(len(bucket) for bucket in self._ring)

    def join(self, subscription: Subscription) -> None:
        """`subscription` starts waiting (plain calls, not a coroutine: no frame per stream)."""
        self._ring[self._hand].add(subscription)
        if self._timer is None:
            self._timer = self.loop.call_later(self.interval / SLICES, self._tick)

    def leave(self, subscription: Subscription) -> None:
        for bucket in self._ring:
            bucket.discard(subscription)

    def _tick(self) -> None:
        self._timer = None
        self._hand = (self._hand + 1) % SLICES
        due = self._ring[self._hand]
        if due:
            self._ring[self._hand] = set()
            for subscription in due:
                subscription.wake()  # its reader writes a keep-alive and joins again
        if any(self._ring):
            self._timer = self.loop.call_later(self.interval / SLICES, self._tick)


_heartbeats: dict[float, Heartbeat] = {}


def heartbeat(interval: float) -> Heartbeat:
    """The running loop's heartbeat for `interval` (one loop per process outside tests)."""
    loop = asyncio.get_running_loop()
    beat = _heartbeats.get(interval)
    if beat is None or beat.loop is not loop:
        beat = _heartbeats[interval] = Heartbeat(interval, loop)
    return beat
