"""Server-Sent Events over the broker: `retry`, a snapshot or the exact Last-Event-ID replay,
live events exactly once and in order, and keep-alive comments.

A room's stream ids are its own seq; a user's stream and the lobby are numbered by the broker, so
their ids also name its epoch (`<epoch>-<seq>`). An id that cannot be honoured exactly gets a
snapshot first; an id that is not one of ours gets 422.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from quart import Response, request

from gamehub.db import iso_utc, utcnow
from gamehub.errors import ApiError
from gamehub.rooms.broker import EPOCH_PATTERN, Broker, Event, SubscriberLagged, Subscription
from gamehub.rooms.handoff import stream_body
from gamehub.rooms.heartbeat import heartbeat

if TYPE_CHECKING:
    from gamehub.connections import Held

log = logging.getLogger(__name__)

RETRY_MS = 2000
# (seq, snapshot body) of the channel as of seq; None for a channel the broker numbers (its
# snapshot is as of the broker's last seq, which the feed reads just before).
Snapshot = Callable[[], Awaitable[tuple[int | None, dict[str, Any]]]]
# Events after `since` from durable storage (the rooms' event table), None if not exactly known.
Durable = Callable[[int], Awaitable[list[Event] | None]]

# ASCII digits only: str.isdigit() takes superscripts and other scripts' digits, int() the latter.
_SEQ = re.compile(r"[0-9]{1,18}", re.ASCII)
# A broker-numbered stream's id, `<epoch>-<seq>`; a bare seq is an id from before epochs.
_POSITION = re.compile(rf"(?:({EPOCH_PATTERN})-)?([0-9]{{1,18}})", re.ASCII)


def snapshot_event(
    channel: str, seq: int, body: dict[str, Any], event_type: str = "snapshot", epoch: str = ""
) -> Event:
    data = {"seq": seq, "type": event_type, "at": utcnow(), **body}
    text = json.dumps(data, separators=(",", ":"), default=_iso)
    return Event(channel, seq, event_type, text, epoch)


def _iso(value: Any) -> str:
    return iso_utc(value) if isinstance(value, datetime) else str(value)


def _raw_last_event_id() -> str | None:
    raw = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
    return None if raw is None or raw == "" else raw


def last_event_id() -> int | None:
    """A room stream's client position: the header or `?last_event_id=`; 422 unless a seq."""
    raw = _raw_last_event_id()
    if raw is None:
        return None
    if _SEQ.fullmatch(raw) is None:
        raise ApiError(
            "Last-Event-ID must be a non-negative integer.", status=422, code="validation_error"
        )
    return int(raw)


def last_position() -> tuple[str, int | None]:
    """A user or lobby stream's client position, (epoch, seq); ("", None) without one. A bare
    seq (from before epochs) has the epoch "", which no channel has: a snapshot."""
    raw = _raw_last_event_id()
    return ("", None) if raw is None else position(raw)


def position(raw: str) -> tuple[str, int]:
    """A broker-numbered stream's id as (epoch, seq); 422 unless it is one such a stream sends."""
    found = _POSITION.fullmatch(raw)
    if found is None:
        raise ApiError(
            "Last-Event-ID must be the id of an event this stream sent.",
            status=422,
            code="validation_error",
        )
    return found.group(1) or "", int(found.group(2))


async def _catch_up(
    broker: Broker, channel: str, since: int, durable: Durable | None, epoch: str | None
) -> list[Event] | None:
    events = await broker.history(channel, since, epoch)
    if events is None and durable is not None:
        events = await durable(since)
    return events


class ChannelFeed:
    """A channel's events for one subscriber, in batches (one write per wake-up): a snapshot or
    the exact replay after `since`, then live events exactly once and in order; [] for a
    keep-alive. Ends when exactness can no longer be kept (the client resumes from its last id).

    `epoch` is None for a channel its publisher numbers (a room: `durable` has its events);
    otherwise the epoch the client named until the feed opens, then the channel's: an event of
    another epoch ends the feed. A plain object, not an async generator: thousands of idle
    streams hold one, and no frame stays suspended per listener."""

    __slots__ = (
        "beat",
        "broker",
        "channel",
        "durable",
        "ended",
        "epoch",
        "held",
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
        epoch: str | None = None,
        durable: Durable | None = None,
        keepalive_s: float = 15.0,
        snapshot_type: str = "snapshot",
    ) -> None:
        self.broker = broker
        self.channel = sys.intern(channel)  # the streams of a channel share one copy of its name
        self.since = since
        self.epoch = epoch
        self.snapshot: Snapshot | None = snapshot
        self.durable = durable
        self.snapshot_type = snapshot_type
        self.beat = heartbeat(keepalive_s)
        self.subscription: Subscription | None = None
        self.last = 0
        self.ended = False
        # What counts this stream against its user's cap (gamehub/connections.py), if anything.
        self.held: Held | None = None

    async def open(self) -> list[Event]:
        """Subscribe, then the first batch (a snapshot or the replay; the replay may be empty)."""
        # Subscribe before reading anything, so nothing published meanwhile slips between the two.
        self.subscription = await self.broker.subscribe(self.channel)
        # Kept as long as the stream: drop the snapshot function (its closure) after its use.
        snapshot, self.snapshot = self.snapshot, None
        assert snapshot is not None, "opened twice"
        since, head = self.since, 0
        replay = None
        if self.epoch is None:
            if since is not None:
                replay = await _catch_up(self.broker, self.channel, since, self.durable, None)
        else:
            # Once per subscription: where the channel stands, and in which epoch.
            claimed = self.epoch
            self.epoch, head = await self.broker.position(self.channel)
            if since is not None and claimed == self.epoch and since <= head:
                replay = (
                    []
                    if since == head
                    else await _catch_up(self.broker, self.channel, since, None, self.epoch)
                )
        if replay is not None:
            self.last = replay[-1].seq if replay else since or 0
            return replay
        last, body = await snapshot()
        self.last = head if last is None else last
        event = snapshot_event(self.channel, self.last, body, self.snapshot_type, self.epoch or "")
        return [event]

    def waiter(self) -> asyncio.Future[None] | None:
        """A future to await before `next_batch` when nothing is ready yet (None otherwise)."""
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
        epoch = self.epoch  # None for a room's feed: nothing to check
        for event in drained:
            if epoch is not None and event.epoch != epoch:
                # The channel was reset: end; the client comes back and gets a snapshot.
                self.ended = True
                break
            if event.seq <= last:
                continue  # already sent from the snapshot or the replay
            if event.seq > last + 1:
                gap = await _catch_up(self.broker, self.channel, last, self.durable, self.epoch)
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
        """The SSE bytes of the next batch (the first call opens the feed); None once ended."""
        if self.subscription is None:
            return b"".join(event.sse for event in await self.open())
        batch = await self.next_batch()
        return None if batch is None else sse_frames(batch)

    def end(self, _why: str = "login_ended") -> None:
        """End the feed from outside (its login ended, or the process drains)."""
        self.ended = True
        if self.subscription is not None:
            self.subscription.wake()

    def close(self) -> None:
        held = self.held
        if held is not None:
            self.held = None
            held.release()
        subscription = self.subscription
        if subscription is not None:
            self.ended = True
            self.subscription = None
            self.beat.leave(subscription)
            subscription.waiter = None
            self.broker.unsubscribe(subscription)


RETRY_FRAME = f"retry: {RETRY_MS}\n\n".encode()
KEEPALIVE_FRAME = b": keep-alive\n\n"


def sse_frames(batch: list[Event]) -> bytes:
    """The SSE bytes of one batch of a feed; an empty batch is a keep-alive."""
    if not batch:
        return KEEPALIVE_FRAME
    if len(batch) == 1:
        return batch[0].sse
    return b"".join(event.sse for event in batch)


def sse_response(feed: ChannelFeed) -> Response:
    """The stream of a feed's batches, `retry` first; Quart sends only the head and the handoff
    middleware writes the stream, so no Quart request stays alive per listener."""
    body = stream_body(RETRY_FRAME, feed)
    response = Response(body, content_type="text/event-stream; charset=utf-8")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each event through at once
    response.timeout = None  # a stream lives as long as the client listens
    return response
