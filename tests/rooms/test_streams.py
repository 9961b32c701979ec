"""A channel feed on either broker: whatever position a subscriber comes back with, it gets the
exact missed events or a snapshot, then every later event; never silence."""

from __future__ import annotations

import asyncio
from typing import Any

from gamehub.rooms.broker import Broker, Event, encode
from gamehub.rooms.streams import ChannelFeed
from tests.rooms.broker_helpers import lose_everything

USER = "user:1"


async def _user_snapshot() -> tuple[None, dict[str, Any]]:
    return None, {"user_id": 1}


def _user_feed(broker: Broker, since: int | None, epoch: str) -> ChannelFeed:
    return ChannelFeed(broker, USER, since, _user_snapshot, epoch=epoch, keepalive_s=60)


async def _next(feed: ChannelFeed, count: int = 1) -> list[Event] | None:
    """The feed's next `count` events (from one batch or several, as they arrive), read as its
    stream reads them; None once the feed has ended. Fails instead of waiting for ever."""
    events: list[Event] = []
    async with asyncio.timeout(5):
        while len(events) < count:
            waiter = feed.waiter()
            if waiter is not None:
                await waiter
            batch = await feed.next_batch()
            if batch is None:
                return events or None
            events.extend(batch)
    return events


async def _publish(broker: Broker, count: int) -> None:
    for _ in range(count):
        await broker.publish(USER, {"type": "wallet"})


def _seen(batch: list[Event] | None) -> list[tuple[str, str, int]]:
    assert batch is not None, "the feed ended"
    return [(event.type, event.epoch, event.seq) for event in batch]


async def test_a_position_in_the_channels_epoch_gets_the_exact_missed_events(
    broker: Broker,
) -> None:
    await _publish(broker, 5)
    epoch, head = await broker.position(USER)
    assert head == 5
    replay = _user_feed(broker, 3, epoch)
    assert _seen(await replay.open()) == [("wallet", epoch, 4), ("wallet", epoch, 5)]
    current = _user_feed(broker, 5, epoch)
    assert await current.open() == []  # nothing missed: nothing sent, and no snapshot
    await _publish(broker, 2)
    for feed in (replay, current):
        assert _seen(await _next(feed, 2)) == [("wallet", epoch, 6), ("wallet", epoch, 7)]
        assert feed.last == 7
        feed.close()


async def test_positions_that_cannot_be_honoured_get_a_snapshot_then_every_later_event(
    broker: Broker,
) -> None:
    await _publish(broker, 5)
    epoch, _ = await broker.position(USER)
    positions = {
        "another epoch": ("0stale", 3),
        "ahead of the channel": (epoch, 500),
        "an id from before epochs (a bare seq)": ("", 3),
        "no id": ("", None),
    }
    feeds = {
        name: _user_feed(broker, since, claimed) for name, (claimed, since) in positions.items()
    }
    for name, feed in feeds.items():
        opening = await feed.open()
        assert _seen(opening) == [("snapshot", epoch, 5)], name
        assert opening[0].sse.startswith(f"id: {epoch}-5\nevent: snapshot\n".encode())
        assert opening[0].payload()["user_id"] == 1
    await _publish(broker, 2)
    for name, feed in feeds.items():
        assert _seen(await _next(feed, 2)) == [("wallet", epoch, 6), ("wallet", epoch, 7)], name
        feed.close()


async def test_history_no_longer_kept_gets_a_snapshot(broker: Broker) -> None:
    await _publish(broker, 400)  # the fixture's brokers keep about 50
    epoch, _ = await broker.position(USER)
    feed = _user_feed(broker, 2, epoch)
    assert _seen(await feed.open()) == [("snapshot", epoch, 400)]
    feed.close()


async def test_a_reset_while_listening_ends_the_feed_and_the_client_comes_back_to_a_snapshot(
    broker: Broker,
) -> None:
    await _publish(broker, 5)
    feed = _user_feed(broker, None, "")
    opening = await feed.open()
    old = feed.epoch
    assert _seen(opening) == [("snapshot", old, 5)]
    await lose_everything(broker)
    await _publish(broker, 1)  # seq 1 again, of a new epoch: not a repeat of the old 1
    assert await _next(feed) is None  # ended, rather than dropping the event as already seen
    feed.close()
    assert old is not None
    back = _user_feed(broker, feed.last, old)  # reconnecting with the last id it was sent
    new, _ = await broker.position(USER)
    assert new != old
    assert _seen(await back.open()) == [("snapshot", new, 1)]
    await _publish(broker, 2)
    assert _seen(await _next(back, 2)) == [("wallet", new, 2), ("wallet", new, 3)]
    back.close()


async def test_a_room_position_ahead_of_the_room_gets_a_snapshot(broker: Broker) -> None:
    room = "room:8"
    for seq in (1, 2, 3):
        await broker.publish_event(Event(room, seq, "tick", encode(seq, {"type": "tick"})))
    asked: list[int] = []

    async def durable(since: int) -> list[Event] | None:
        asked.append(since)
        return None  # the room never reached it

    async def snapshot() -> tuple[int, dict[str, Any]]:
        return 3, {"room_id": 8}

    ahead = ChannelFeed(broker, room, 500, snapshot, durable=durable, keepalive_s=60)
    opening = await ahead.open()
    assert _seen(opening) == [("snapshot", "", 3)] and asked == [500]
    assert opening[0].sse.startswith(b"id: 3\nevent: snapshot\n")
    current = ChannelFeed(broker, room, 3, snapshot, durable=durable, keepalive_s=60)
    assert await current.open() == [] and asked == [500]  # the broker knew: no database read
    await broker.publish_event(Event(room, 4, "tick", encode(4, {"type": "tick"})))
    for feed in (ahead, current):
        assert _seen(await _next(feed)) == [("tick", "", 4)]
        feed.close()
