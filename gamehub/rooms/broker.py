"""The event broker: one interface, two implementations (in-process memory, Redis).

Every publication on a channel ("room:<id>", "user:<id>", "lobby") gets the channel's next
offset (`seq`, 1, 2, 3 … without gaps) and is kept in a bounded history, so a subscriber that
reconnects gets exactly the events it missed, or learns that they are gone (Centrifugo's model).
A publisher may pass the seq itself (a room's actor numbers its events in the database); the
broker then stores it only if it is newer than the last one, so a republish after a crash is
harmless.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

log = logging.getLogger(__name__)

HISTORY_SIZE = 1000
SUBSCRIBER_QUEUE = 1000


@dataclass(frozen=True)
class Event:
    """A published event; `data` is its JSON text, which already carries `seq` and `type`."""

    channel: str
    seq: int
    type: str
    data: str

    def payload(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.data)
        return loaded

    @cached_property
    def sse(self) -> bytes:
        """The SSE frame, built once however many subscribers receive the event."""
        return f"id: {self.seq}\nevent: {self.type}\ndata: {self.data}\n\n".encode()


class SubscriberLagged(Exception):
    """A subscriber fell too far behind; it must reconnect and replay from its last seq."""


class Subscription:
    """One subscriber's pending events. Delivery is an append and, if the reader sleeps, one
    wake-up: cheap enough to do for thousands of subscribers per event. Kept small: thousands
    of idle streams each hold one (a list, not a deque: a deque costs ~760 bytes even empty)."""

    __slots__ = ("channel", "lagged", "pending", "waiter")

    def __init__(self, channel: str) -> None:
        self.channel = channel
        # A list only while something is pending: an idle subscriber holds the shared empty tuple.
        self.pending: list[Event] | tuple[()] = ()
        self.waiter: asyncio.Future[None] | None = None
        self.lagged = False

    def deliver(self, event: Event) -> None:
        pending = self.pending
        if not pending:
            self.pending = [event]
        elif len(pending) >= SUBSCRIBER_QUEUE:
            # Never block the publisher for one slow reader: cut it off; it replays on reconnect.
            self.lagged = True
        else:
            pending.append(event)
        self.wake()

    def cut_off(self) -> None:
        self.lagged = True
        self.wake()

    def wake(self) -> None:
        """End the reader's wait, with or without anything pending (a keep-alive is due)."""
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def arm(self) -> asyncio.Future[None]:
        """The future `wake` completes. A stream's reader awaits it itself (and clears `waiter`
        when it runs again), so no coroutine frame per waiting subscriber stays suspended."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiter = waiter
        return waiter

    async def wait(self) -> None:
        """Until something is pending, the subscriber was cut off, or `wake` was called."""
        if self.pending or self.lagged:
            return
        try:
            await self.arm()
        finally:
            self.waiter = None

    def drain(self) -> Sequence[Event]:
        """Everything pending, in order; SubscriberLagged once the subscriber was cut off."""
        if self.lagged:
            raise SubscriberLagged(self.channel)
        events = self.pending
        self.pending = ()
        return events

    async def next(self) -> Event:
        """The next event, one at a time (tests and simple readers)."""
        while not self.pending:
            if self.lagged:
                raise SubscriberLagged(self.channel)
            await self.wait()
        if self.lagged:
            raise SubscriberLagged(self.channel)
        pending = self.pending
        assert isinstance(pending, list)
        return pending.pop(0)


def encode(seq: int, body: dict[str, Any]) -> str:
    """JSON with `seq` first, the same text the Redis script builds."""
    return json.dumps({"seq": seq, **body}, separators=(",", ":"), default=str)


class Broker(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, channel: str, body: dict[str, Any], seq: int | None = None) -> int:
        """Publish `body` (which has a `type`) and return its seq."""
        ...

    async def publish_event(self, event: Event) -> None:
        """Publish an event already numbered and encoded (a room's, stored in its table)."""
        ...

    async def history(self, channel: str, since: int) -> list[Event] | None:
        """Events with seq > since, in order; None if some of them are no longer kept."""
        ...

    async def last_seq(self, channel: str) -> int: ...

    async def last_seqs(self, channels: list[str]) -> list[int]:
        """last_seq of each channel, in one round trip."""
        ...

    async def subscribe(self, channel: str) -> Subscription:
        """A live subscription; events published after this returns are delivered to it."""
        ...

    def unsubscribe(self, subscription: Subscription) -> None: ...

    async def ping(self) -> bool: ...

    async def claim(self, key: str, ttl_s: int) -> bool:
        """True for the first claim of `key` within `ttl_s` seconds (on every instance)."""
        ...


class _LocalFanout:
    """Subscriptions of this process, by channel; both brokers deliver through it."""

    def __init__(self) -> None:
        self.subscribers: dict[str, set[Subscription]] = {}

    def add(self, channel: str) -> Subscription:
        subscription = Subscription(channel)
        self.subscribers.setdefault(channel, set()).add(subscription)
        return subscription

    def remove(self, subscription: Subscription) -> bool:
        """Forget a subscription; True when its channel has no local subscriber left."""
        members = self.subscribers.get(subscription.channel)
        if members is None:
            return False
        members.discard(subscription)
        if not members:
            del self.subscribers[subscription.channel]
            return True
        return False

    def deliver(self, event: Event) -> None:
        for subscription in tuple(self.subscribers.get(event.channel, ())):
            subscription.deliver(event)


class MemoryBroker:
    """One process: histories in bounded deques, delivery straight to local queues."""

    def __init__(self, history_size: int = HISTORY_SIZE, max_channels: int = 100_000) -> None:
        self.history_size = history_size
        self.max_channels = max_channels
        self._histories: OrderedDict[str, deque[Event]] = OrderedDict()
        self._offsets: dict[str, int] = {}
        self._fanout = _LocalFanout()
        self._claims: dict[str, float] = {}

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def publish(self, channel: str, body: dict[str, Any], seq: int | None = None) -> int:
        last = self._offsets.get(channel, 0)
        if seq is None:
            seq = last + 1
        elif seq <= last:
            return seq  # already published (a republish after a restart)
        self._store(Event(channel, seq, str(body["type"]), encode(seq, body)))
        return seq

    async def publish_event(self, event: Event) -> None:
        if event.seq > self._offsets.get(event.channel, 0):
            self._store(event)

    def _store(self, event: Event) -> None:
        channel = event.channel
        self._offsets[channel] = event.seq
        history = self._histories.get(channel)
        if history is None:
            history = self._histories[channel] = deque(maxlen=self.history_size)
            if len(self._histories) > self.max_channels:
                old, _ = self._histories.popitem(last=False)
                self._offsets.pop(old, None)
        else:
            self._histories.move_to_end(channel)
        history.append(event)
        self._fanout.deliver(event)

    async def history(self, channel: str, since: int) -> list[Event] | None:
        kept = self._histories.get(channel)
        last = self._offsets.get(channel, 0)
        if since >= last:
            return []
        if not kept or kept[0].seq > since + 1:
            return None
        return [event for event in kept if event.seq > since]

    async def last_seq(self, channel: str) -> int:
        return self._offsets.get(channel, 0)

    async def last_seqs(self, channels: list[str]) -> list[int]:
        return [self._offsets.get(channel, 0) for channel in channels]

    async def subscribe(self, channel: str) -> Subscription:
        return self._fanout.add(channel)

    def unsubscribe(self, subscription: Subscription) -> None:
        self._fanout.remove(subscription)

    async def ping(self) -> bool:
        return True

    async def claim(self, key: str, ttl_s: int) -> bool:
        now = time.monotonic()
        if len(self._claims) > 10_000:
            self._claims = {k: until for k, until in self._claims.items() if until > now}
        if self._claims.get(key, 0.0) > now:
            return False
        self._claims[key] = now + ttl_s
        return True


def create_broker(redis_url: str | None) -> Broker:
    """Redis when configured (many instances), otherwise in-process (the embedded default)."""
    if redis_url is None:
        return MemoryBroker()
    from gamehub.rooms.redis_broker import RedisBroker

    return RedisBroker(redis_url)
