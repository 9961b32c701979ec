"""Server-Sent Events over the broker: `retry`, snapshot or exact Last-Event-ID replay, live
events exactly once and in order, and keep-alive comments."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

from quart import Response, request

from gamehub.db import iso_utc, utcnow
from gamehub.errors import ApiError
from gamehub.handoff import Stream, current_handoff
from gamehub.rooms.broker import Broker, Event, SubscriberLagged
from gamehub.rooms.heartbeat import heartbeat

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


async def channel_events(
    broker: Broker,
    channel: str,
    since: int | None,
    snapshot: Snapshot,
    *,
    durable: Durable | None = None,
    keepalive_s: float = 15.0,
    snapshot_type: str = "snapshot",
) -> AsyncIterator[list[Event]]:
    """A channel's events for one subscriber, in batches: a snapshot (or the exact replay after
    `since`), then live events, each exactly once and in order; an empty batch when it is time
    for a keep-alive. Ends when exactness can no longer be kept (the subscriber resumes from its
    last seq). Batches let a busy stream write once per wake-up instead of once per event."""
    # Subscribe before reading anything, so nothing published meanwhile slips between the two.
    subscription = await broker.subscribe(channel)
    beat = heartbeat(keepalive_s)
    try:
        last, opening = await _opening(broker, channel, since, snapshot, durable, snapshot_type)
        # This frame lives as long as the stream: keep neither the snapshot (a room or wallet
        # body) nor the replayed events, nor the snapshot function, past their first use.
        del snapshot
        if opening:
            yield opening
        del opening
        while True:
            if not subscription.pending and not subscription.lagged:
                beat.join(subscription)
                try:
                    await subscription.wait()
                finally:
                    beat.leave(subscription)
                if not subscription.pending and not subscription.lagged:
                    yield []  # woken by the heartbeat: time for a keep-alive
                    continue
            batch: list[Event] = []
            for event in subscription.drain():
                if event.seq <= last:
                    continue  # already sent from the snapshot or the replay
                if event.seq > last + 1:
                    gap = await _catch_up(broker, channel, last, durable)
                    if gap is None:
                        # Cannot be exact: end; the client reconnects and gets a snapshot.
                        if batch:
                            yield batch
                        return
                    for missed in gap:
                        if last < missed.seq < event.seq:
                            batch.append(missed)
                            last = missed.seq
                batch.append(event)
                last = event.seq
            if batch:
                yield batch
    except SubscriberLagged:
        # Too slow to keep up: end; the client reconnects from its last seq.
        return
    finally:
        broker.unsubscribe(subscription)


RETRY_FRAME = f"retry: {RETRY_MS}\n\n".encode()
KEEPALIVE_FRAME = b": keep-alive\n\n"


def sse_frames(batch: list[Event]) -> bytes:
    """The SSE bytes of one batch of `channel_events`; an empty batch is a keep-alive."""
    if not batch:
        return KEEPALIVE_FRAME
    if len(batch) == 1:
        return batch[0].sse
    return b"".join(event.sse for event in batch)


async def _sse_bytes(batches: AsyncIterator[list[Event]]) -> AsyncIterator[bytes]:
    yield RETRY_FRAME
    async for batch in batches:
        yield sse_frames(batch)


def sse_response(batches: AsyncIterator[list[Event]]) -> Response:
    """The stream of `channel_events` batches: `retry` first, `: keep-alive` comments between.
    Where the app is wrapped in StreamHandoff, Quart sends only the head and the wrapper writes
    the stream, so no Quart request (nor a bytes generator) stays alive per listener."""
    handoff = current_handoff.get()
    body = (
        _sse_bytes(batches)
        if handoff is None
        else handoff.take(Stream(RETRY_FRAME, batches, sse_frames))
    )
    response = Response(body, content_type="text/event-stream; charset=utf-8")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each event through at once
    response.timeout = None  # a stream lives as long as the client listens
    return response
