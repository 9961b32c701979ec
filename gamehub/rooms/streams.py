"""Server-Sent Events over the broker: `retry`, snapshot or exact Last-Event-ID replay, live
events exactly once and in order, and keep-alive comments."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

from quart import Response, request

from gamehub.db import iso_utc, utcnow
from gamehub.errors import ApiError
from gamehub.rooms.broker import Broker, Event, SubscriberLagged, Subscription
from gamehub.rooms.heartbeat import heartbeat
from gamehub.workarounds.handoff import Stream, current_handoff, feed_bytes

log = logging.getLogger(__name__)

RETRY_MS = 2000
# (seq, snapshot body) describing the channel as of seq.
Snapshot = Callable[[], Awaitable[tuple[int, dict[str, Any]]]]
# Events after `since` from durable storage (e.g. the rooms' event table), None if not kept.
Durable = Callable[[int], Awaitable[list[Event] | None]]


def snapshot_event(
    channel: str, seq: int, body: dict[str, Any], event_type: str = "snapshot"
) -> Event:
    data = {"seq": seq, "type": event_type, "at": utcnow(), **body}
    return Event(channel, seq, event_type, json.dumps(data, separators=(",", ":"), default=_iso))


def _iso(value: Any) -> str:
    return iso_utc(value) if isinstance(value, datetime) else str(value)


def last_event_id() -> int | None:
    """The reconnecting client's position: the header, or `?last_event_id=` (0 = from the start)."""
    raw = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise ApiError(
            "Last-Event-ID must be a non-negative integer.", status=422, code="validation_error"
        )
    return int(raw)


async def _catch_up(
    broker: Broker, channel: str, since: int, durable: Durable | None
) -> list[Event] | None:
    events = await broker.history(channel, since)
    if events is None and durable is not None:
        events = await durable(since)
    return events


async def _opening(
    broker: Broker,
    channel: str,
    since: int | None,
    snapshot: Snapshot,
    durable: Durable | None,
    snapshot_type: str,
) -> tuple[int, list[Event]]:
    """Where a subscriber starts: its last seq and the first batch (a snapshot or the replay)."""
    replay = None if since is None else await _catch_up(broker, channel, since, durable)
    if replay is None:
        last, body = await snapshot()
        return last, [snapshot_event(channel, last, body, snapshot_type)]
    return (replay[-1].seq if replay else since or 0), replay


class ChannelFeed:
    """A channel's events for one subscriber, in batches: a snapshot (or the exact replay after
    `since`), then live events, each exactly once and in order; an empty batch when it is time
    for a keep-alive. Ends when exactness can no longer be kept (the subscriber resumes from its
    last seq). Batches let a busy stream write once per wake-up instead of once per event.

    A plain object rather than an async generator: thousands of idle streams each hold one, and
    while idle its reader awaits the subscription's future itself (`waiter`), so no generator
    or coroutine frame stays suspended per listener, only these slots."""

    __slots__ = (
        "beat",
        "broker",
        "channel",
        "durable",
        "ended",
        "last",
        "since",
        "snapshot",
        "snapshot_type",
        "subscription",
    )

    def __init__(
        self,
        broker: Broker,
        channel: str,
        since: int | None,
        snapshot: Snapshot,
        *,
        durable: Durable | None = None,
        keepalive_s: float = 15.0,
        snapshot_type: str = "snapshot",
    ) -> None:
        self.broker = broker
        self.channel = sys.intern(channel)  # the streams of a channel share one copy of its name
        self.since = since
        self.snapshot: Snapshot | None = snapshot
        self.durable = durable
        self.snapshot_type = snapshot_type
        self.beat = heartbeat(keepalive_s)
        self.subscription: Subscription | None = None
        self.last = 0
        self.ended = False

    async def open(self) -> list[Event]:
        """Subscribe, then the first batch (a snapshot or the replay; the replay may be empty)."""
        # Subscribe before reading anything, so nothing published meanwhile slips between the two.
        self.subscription = await self.broker.subscribe(self.channel)
        # Kept as long as the stream: keep neither the snapshot function (its closure holds a
        # room or a wallet reader) nor the opening batch past their first use.
        snapshot, self.snapshot = self.snapshot, None
        assert snapshot is not None, "opened twice"
        self.last, opening = await _opening(
            self.broker, self.channel, self.since, snapshot, self.durable, self.snapshot_type
        )
        return opening

    def waiter(self) -> asyncio.Future[None] | None:
        """A future to await before `next_batch` when nothing is ready yet (None otherwise).
        Completed by a publication, the subscriber being cut off, or the keep-alive timer."""
        subscription = self.subscription
        if subscription is None or self.ended or subscription.pending or subscription.lagged:
            return None
        self.beat.join(subscription)
        return subscription.arm()

    async def next_batch(self) -> list[Event] | None:
        """After `waiter`: the next batch, [] for a keep-alive, None once the feed has ended."""
        subscription = self.subscription
        assert subscription is not None, "not opened"
        while not self.ended:
            self.beat.leave(subscription)
            subscription.waiter = None
            if not subscription.pending and not subscription.lagged:
                return []  # woken by the heartbeat: time for a keep-alive
            batch = await self._batch(subscription)
            if batch:
                return batch
            # Only repeats of what was already sent: wait again, as if never woken.
            waiter = self.waiter()
            if waiter is not None:
                await waiter
        return None

    async def _batch(self, subscription: Subscription) -> list[Event]:
        try:
            drained = subscription.drain()
        except SubscriberLagged:
            # Too slow to keep up: end; the client reconnects from its last seq.
            self.ended = True
            return []
        batch: list[Event] = []
        last = self.last
        for event in drained:
            if event.seq <= last:
                continue  # already sent from the snapshot or the replay
            if event.seq > last + 1:
                gap = await _catch_up(self.broker, self.channel, last, self.durable)
                if gap is None:
                    # Cannot be exact: end; the client reconnects and gets a snapshot.
                    self.ended = True
                    break
                for missed in gap:
                    if last < missed.seq < event.seq:
                        batch.append(missed)
                        last = missed.seq
            batch.append(event)
            last = event.seq
        self.last = last
        return batch

    async def next(self) -> bytes | None:
        """The SSE bytes of the next batch (b"" for nothing to send); None once ended. The
        first call opens the feed."""
        if self.subscription is None:
            return b"".join(event.sse for event in await self.open())
        batch = await self.next_batch()
        return None if batch is None else sse_frames(batch)

    def close(self) -> None:
        subscription = self.subscription
        if subscription is not None:
            self.ended = True
            self.subscription = None
            self.beat.leave(subscription)
            subscription.waiter = None
            self.broker.unsubscribe(subscription)


async def channel_events(feed: ChannelFeed) -> AsyncIterator[list[Event]]:
    """A ChannelFeed as an async iterator of batches (the WebSocket forwards it this way)."""
    try:
        opening = await feed.open()
        if opening:
            yield opening
        del opening
        while True:
            waiter = feed.waiter()
            if waiter is not None:
                await waiter
            batch = await feed.next_batch()
            if batch is None:
                return
            yield batch
    finally:
        feed.close()


RETRY_FRAME = f"retry: {RETRY_MS}\n\n".encode()
KEEPALIVE_FRAME = b": keep-alive\n\n"


def sse_frames(batch: list[Event]) -> bytes:
    """The SSE bytes of one batch of `channel_events`; an empty batch is a keep-alive."""
    if not batch:
        return KEEPALIVE_FRAME
    if len(batch) == 1:
        return batch[0].sse
    return b"".join(event.sse for event in batch)


def sse_response(feed: ChannelFeed) -> Response:
    """The stream of a feed's batches: `retry` first, `: keep-alive` comments between.
    Where the app is wrapped in StreamHandoff, Quart sends only the head and the wrapper writes
    the stream, so no Quart request (nor a bytes generator) stays alive per listener."""
    handoff = current_handoff.get()
    body = (
        feed_bytes(RETRY_FRAME, feed)
        if handoff is None
        else handoff.take(Stream(RETRY_FRAME, feed))
    )
    response = Response(body, content_type="text/event-stream; charset=utf-8")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each event through at once
    response.timeout = None  # a stream lives as long as the client listens
    return response
