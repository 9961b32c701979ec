"""The event broker: one interface, two implementations (in-process memory, Redis).

Every publication on a channel gets its next offset (`seq`, without gaps) and is kept in a
bounded history, so a reconnecting subscriber gets exactly what it missed or learns it is gone
(Centrifugo's model). A publisher may pass the seq itself (a room's actor); only a newer one is
stored, so a republish is harmless. Offsets the broker numbers restart at 1 when its store is
lost, so such a channel also has an epoch, drawn when its offset is created: a subscriber
holding another epoch's offset must reload.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

log = logging.getLogger(__name__)

HISTORY_SIZE = 1000
SUBSCRIBER_QUEUE = 1000
# What an epoch looks like (what `Epochs` draws), for telling a client's id apart from garbage.
EPOCH_PATTERN = "[0-9a-z]{1,32}"


class Epochs:
    """Fresh epoch names: a random prefix per process, then a counter, so no two ever repeat."""

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(6)
        self._count = itertools.count(1)

    def __call__(self) -> str:
        return f"{self._prefix}{next(self._count):x}"


@dataclass(frozen=True)
class Event:
    """A published event; `data` is its JSON text (with `seq` and `type`). `epoch` is the
    channel's when the broker numbered it ("" when its publisher did); the SSE id is then
    `<epoch>-<seq>`."""

    channel: str
    seq: int
    type: str
    data: str
    epoch: str = ""

    def payload(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.data)
        return loaded

    @cached_property
    def sse(self) -> bytes:
        """The SSE frame, built once however many subscribers receive the event."""
        key = f"{self.epoch}-{self.seq}" if self.epoch else self.seq
        return f"id: {key}\nevent: {self.type}\ndata: {self.data}\n\n".encode()


class SubscriberLagged(Exception):
    """A subscriber fell too far behind; it must reconnect and replay from its last seq."""


class Subscription:
    """One subscriber's pending events; delivery is an append and at most one wake-up. Kept
    small: thousands of idle streams hold one (a list: a deque costs ~760 bytes even empty)."""

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
        """The future `wake` completes; a stream's reader awaits it itself (and clears `waiter`),
        so no coroutine frame per waiting subscriber stays suspended."""
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


def encode(seq: int, body: dict[str, Any], epoch: str = "") -> str:
    """JSON with `seq` (then any `epoch`) first: the same text the Redis script builds."""
    head: dict[str, Any] = {"seq": seq, "epoch": epoch} if epoch else {"seq": seq}
    return json.dumps({**head, **body}, separators=(",", ":"), default=str)


class Broker(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, channel: str, body: dict[str, Any], seq: int | None = None) -> int:
        """Publish `body` (which has a `type`) and return its seq."""

    async def publish_event(self, event: Event) -> None:
        """Publish an event already numbered and encoded (a room's, stored in its table)."""

    async def history(
        self, channel: str, since: int, epoch: str | None = None
    ) -> list[Event] | None:
        """Events with seq > since, in order; None when that cannot be answered exactly (some
        are gone, `since` is ahead, or the channel's epoch is no longer `epoch`)."""

    async def last_seq(self, channel: str) -> int: ...

    async def last_seqs(self, channels: list[str]) -> list[int]:
        """last_seq of each channel, in one round trip."""

    async def position(self, channel: str) -> tuple[str, int]:
        """The channel's epoch and last seq, read together; a channel without an epoch is given
        one, so that a subscriber starting here is recognised when it comes back."""

    async def subscribe(self, channel: str) -> Subscription:
        """A live subscription; events published after this returns are delivered to it."""

    def unsubscribe(self, subscription: Subscription) -> None: ...

    async def ping(self) -> bool: ...

    async def claim(self, key: str, ttl_s: int) -> bool:
        """True for the first claim of `key` within `ttl_s` seconds (on every instance)."""


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


class _Channel:
    """The in-process broker's channel: epoch, last seq and recent events (a deque only once
    something is published)."""

    __slots__ = ("epoch", "events", "last")

    def __init__(self, epoch: str) -> None:
        self.epoch = epoch
        self.last = 0
        self.events: deque[Event] | None = None


class MemoryBroker:
    """One process: histories in bounded deques, delivered straight to local subscribers. Beyond
    `max_channels` the least recently used channel is forgotten (and gets a new epoch)."""

    def __init__(self, history_size: int = HISTORY_SIZE, max_channels: int = 100_000) -> None:
        self.history_size = history_size
        self.max_channels = max_channels
        self._channels: OrderedDict[str, _Channel] = OrderedDict()
        self._epochs = Epochs()
        self._fanout = _LocalFanout()
        self._claims: dict[str, float] = {}

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def _channel(self, name: str) -> _Channel:
        """The channel, made the most recently used; created (with a new epoch) if unknown."""
        channel = self._channels.get(name)
        if channel is None:
            channel = self._channels[name] = _Channel(self._epochs())
            while len(self._channels) > self.max_channels:
                self._channels.popitem(last=False)
        else:
            self._channels.move_to_end(name)
        return channel

    async def publish(self, channel: str, body: dict[str, Any], seq: int | None = None) -> int:
        state = self._channel(channel)
        epoch = ""
        if seq is None:
            seq, epoch = state.last + 1, state.epoch
        elif seq <= state.last:
            return seq  # already published (a republish after a restart)
        event = Event(channel, seq, str(body["type"]), encode(seq, body, epoch), epoch)
        self._store(state, event)
        return seq

    async def publish_event(self, event: Event) -> None:
        state = self._channel(event.channel)
        if event.seq > state.last:
            self._store(state, event)

    def _store(self, state: _Channel, event: Event) -> None:
        state.last = event.seq
        events = state.events
        if events is None:
            events = state.events = deque(maxlen=self.history_size)
        events.append(event)
        self._fanout.deliver(event)

    async def history(
        self, channel: str, since: int, epoch: str | None = None
    ) -> list[Event] | None:
        state = self._channels.get(channel)
        if state is None:
            # Never published (or forgotten): only "nothing after 0" is exact, and no epoch.
            return [] if since == 0 and epoch is None else None
        if (epoch is not None and epoch != state.epoch) or since > state.last:
            return None
        if since == state.last:
            return []
        kept = state.events
        if not kept or kept[0].seq > since + 1:
            return None
        return [event for event in kept if event.seq > since]

    async def last_seq(self, channel: str) -> int:
        state = self._channels.get(channel)
        return 0 if state is None else state.last

    async def position(self, channel: str) -> tuple[str, int]:
        state = self._channel(channel)
        return state.epoch, state.last

    async def last_seqs(self, channels: list[str]) -> list[int]:
        known = self._channels
        return [0 if (state := known.get(name)) is None else state.last for name in channels]

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
