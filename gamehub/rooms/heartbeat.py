"""Keep-alive timing for idle streams: one timer per interval for all of them, not one each."""

from __future__ import annotations

import asyncio

from gamehub.rooms.broker import Subscription


class Heartbeat:
    """Every `interval` seconds, wakes each subscription that is waiting at that moment (with
    nothing pending: its stream then writes a keep-alive). A stream writes just before it waits,
    so none stays silent longer than `interval`. A timer per idle stream cost several hundred
    bytes each; a set entry costs a few dozen."""

    def __init__(self, interval: float, loop: asyncio.AbstractEventLoop) -> None:
        self.interval = interval
        self.loop = loop
        self.waiting: set[Subscription] = set()
        self._timer: asyncio.TimerHandle | None = None

    def join(self, subscription: Subscription) -> None:
        """`subscription` starts waiting (plain calls, not a coroutine: no frame per stream)."""
        self.waiting.add(subscription)
        if self._timer is None:
            self._timer = self.loop.call_later(self.interval, self._beat)

    def leave(self, subscription: Subscription) -> None:
        self.waiting.discard(subscription)

    def _beat(self) -> None:
        self._timer = None
        for subscription in tuple(self.waiting):
            subscription.wake()
        # Woken subscriptions leave the set only when their readers run; they come back to wait.
        if self.waiting:
            self._timer = self.loop.call_later(self.interval, self._beat)


_heartbeats: dict[float, Heartbeat] = {}


def heartbeat(interval: float) -> Heartbeat:
    """The running loop's heartbeat for `interval` (one loop per process outside tests)."""
    loop = asyncio.get_running_loop()
    beat = _heartbeats.get(interval)
    if beat is None or beat.loop is not loop:
        beat = _heartbeats[interval] = Heartbeat(interval, loop)
    return beat
