"""Both brokers keep the same promises: gapless offsets, bounded exact history, live fan-out,
and epochs that tell a channel's offsets apart from those it had before the broker lost it."""

from __future__ import annotations

import asyncio
import os
import re
import uuid

import pytest

from gamehub.rooms.broker import (
    EPOCH_PATTERN,
    Broker,
    Event,
    SubscriberLagged,
    encode,
)
from gamehub.rooms.redis_broker import TTL_S, RedisBroker, _keys
from gamehub.rooms.streams import ChannelFeed
from tests.backends import unavailable
from tests.rooms.broker_helpers import lose_everything


async def test_offsets_are_gapless_and_history_is_exact(broker: Broker) -> None:
    seqs = [await broker.publish("room:1", {"type": "tick", "n": n}) for n in range(10)]
    assert seqs == list(range(1, 11))
    assert await broker.last_seq("room:1") == 10
    history = await broker.history("room:1", 4)
    assert history is not None
    assert [event.seq for event in history] == [5, 6, 7, 8, 9, 10]
    # An event the broker numbers carries its epoch in its JSON, too.
    assert history[0].epoch
    assert history[0].payload() == {"seq": 5, "epoch": history[0].epoch, "type": "tick", "n": 4}
    assert await broker.history("room:1", 10) == []
    assert await broker.history("room:2", 0) == []


async def test_history_that_is_no_longer_kept_is_reported(broker: Broker) -> None:
    for n in range(400):
        await broker.publish("room:7", {"type": "tick", "n": n})
    assert await broker.history("room:7", 0) is None
    recent = await broker.history("room:7", 390)
    assert recent is not None and [e.seq for e in recent] == list(range(391, 401))


async def test_caller_chosen_seq_is_stored_once(broker: Broker) -> None:
    assert await broker.publish("room:3", {"type": "a"}, seq=1) == 1
    assert await broker.publish("room:3", {"type": "b"}, seq=2) == 2
    assert await broker.publish("room:3", {"type": "b-again"}, seq=2) == 2  # a republish
    history = await broker.history("room:3", 0)
    assert history is not None and [e.type for e in history] == ["a", "b"]


async def test_live_delivery_in_order_to_every_subscriber(broker: Broker) -> None:
    first = await broker.subscribe("lobby")
    second = await broker.subscribe("lobby")
    other = await broker.subscribe("room:9")
    for n in range(20):
        await broker.publish("lobby", {"type": "room_updated", "n": n})
    for subscription in (first, second):
        received = [await asyncio.wait_for(subscription.next(), 5) for _ in range(20)]
        assert [event.seq for event in received] == list(range(1, 21))
        assert received[3].payload()["n"] == 3
    assert not other.pending
    for subscription in (first, second, other):
        broker.unsubscribe(subscription)


async def test_a_slow_subscriber_is_cut_off_not_waited_for(broker: Broker) -> None:
    slow = await broker.subscribe("room:5")
    for n in range(1_100):  # more than a subscriber's queue holds
        await broker.publish("room:5", {"type": "tick", "n": n})
    await asyncio.sleep(0.2)
    with pytest.raises(SubscriberLagged):
        for _ in range(1_100):
            await asyncio.wait_for(slow.next(), 5)
    broker.unsubscribe(slow)


async def test_ping(broker: Broker) -> None:
    assert await broker.ping()


async def test_redis_databases_on_one_server_do_not_hear_each_other() -> None:
    """Keys live in the URL's database but pub/sub channels are server-wide: a deployment on
    database n must not receive the events another publishes on database m."""
    url = os.environ.get("GAMEHUB_TEST_REDIS_URL")
    if not url:
        unavailable("set GAMEHUB_TEST_REDIS_URL to test the Redis broker")
        raise AssertionError("unreachable")
    from redis.asyncio.connection import parse_url

    database = int(parse_url(url).get("db", 0))
    base = url.rsplit("/", 1)[0] if url.rsplit("/", 1)[-1].isdigit() else url.rstrip("/")
    ours, theirs = RedisBroker(url), RedisBroker(f"{base}/{(database + 1) % 16}")
    # A channel of its own: nothing else on the neighbouring database is touched.
    channel = f"room:isolation-{uuid.uuid4().hex}"
    for instance in (ours, theirs):
        await instance.start()
    try:
        listening = await ours.subscribe(channel)
        await theirs.publish(channel, {"type": "elsewhere"})
        await ours.publish(channel, {"type": "here"})
        heard = await asyncio.wait_for(listening.next(), 5)
        assert heard.type == "here"
        await asyncio.sleep(0.2)
        assert not listening.pending
        ours.unsubscribe(listening)
    finally:
        for instance in (ours, theirs):
            await instance.redis.delete(*_keys(channel))
            await instance.close()


async def test_broker_numbered_events_carry_the_channels_epoch(broker: Broker) -> None:
    epoch, head = await broker.position("user:1")
    assert head == 0 and re.fullmatch(EPOCH_PATTERN, epoch), epoch
    assert await broker.position("user:1") == (epoch, 0)  # named once, then kept
    listening = await broker.subscribe("user:1")
    for n in range(3):
        await broker.publish("user:1", {"type": "wallet", "n": n})
    assert await broker.position("user:1") == (epoch, 3)
    assert await broker.last_seq("user:1") == 3
    live = [await asyncio.wait_for(listening.next(), 5) for _ in range(3)]
    assert [(event.epoch, event.seq) for event in live] == [(epoch, 1), (epoch, 2), (epoch, 3)]
    assert live[0].sse.startswith(f"id: {epoch}-1\nevent: wallet\n".encode())
    history = await broker.history("user:1", 1, epoch)
    assert history is not None and [(e.epoch, e.seq) for e in history] == [(epoch, 2), (epoch, 3)]
    assert await broker.history("user:1", 3, epoch) == []
    assert await broker.history("user:1", 1, "0other") is None  # another epoch
    assert await broker.history("user:1", 4, epoch) is None  # ahead of the channel
    assert await broker.history("user:1", 4) is None
    # Every channel has its own epoch, drawn when it is created.
    assert (await broker.position("user:2"))[0] != epoch
    broker.unsubscribe(listening)


async def test_publisher_numbered_events_have_no_epoch(broker: Broker) -> None:
    listening = await broker.subscribe("room:4")
    await broker.publish("room:4", {"type": "a"}, seq=1)
    await broker.publish_event(Event("room:4", 2, "b", encode(2, {"type": "b"})))
    live = [await asyncio.wait_for(listening.next(), 5) for _ in range(2)]
    assert [(event.epoch, event.seq) for event in live] == [("", 1), ("", 2)]
    assert live[1].sse == f"id: 2\nevent: b\ndata: {live[1].data}\n\n".encode()
    history = await broker.history("room:4", 0)
    assert history is not None and [(e.epoch, e.seq) for e in history] == [("", 1), ("", 2)]
    assert await broker.history("room:4", 3) is None  # ahead of the room
    broker.unsubscribe(listening)


async def test_a_channel_lost_by_the_broker_starts_again_in_a_new_epoch(broker: Broker) -> None:
    """Offsets start again at 1 once the broker has lost a channel (restart, flush, expiry,
    eviction): the new ones are told apart from the old by the epoch, and a subscriber that
    stayed connected sees it on the first event."""
    listening = await broker.subscribe("lobby")
    epoch, _ = await broker.position("lobby")
    for n in range(3):
        await broker.publish("lobby", {"type": "room_updated", "n": n})
    assert [(await asyncio.wait_for(listening.next(), 5)).seq for _ in range(3)] == [1, 2, 3]
    await lose_everything(broker)
    assert await broker.history("lobby", 3, epoch) is None
    assert await broker.publish("lobby", {"type": "room_updated", "n": 3}) == 1
    after = await asyncio.wait_for(listening.next(), 5)
    assert after.seq == 1 and after.epoch not in {"", epoch}
    assert await broker.position("lobby") == (after.epoch, 1)
    broker.unsubscribe(listening)


async def test_a_subscriber_arriving_as_the_last_one_leaves_hears_the_channel(
    broker: Broker,
) -> None:
    """A browser reloading: its old stream leaves (the broker gives the channel up) and its new
    one subscribes at once. Redis confirms the UNSUBSCRIBE later; the new subscriber must not
    take the channel for still subscribed and then hear nothing."""
    for n in range(10):
        leaving = await broker.subscribe("user:5")
        broker.unsubscribe(leaving)
        await asyncio.sleep(0)  # the broker starts giving the channel up
        arriving = await broker.subscribe("user:5")
        await broker.publish("user:5", {"type": "wallet", "n": n})
        heard = await asyncio.wait_for(arriving.next(), 5)
        assert heard.payload()["n"] == n
        broker.unsubscribe(arriving)


# The previous release's publish script (before epochs), as an instance of it runs it during a
# rolling upgrade.
PREVIOUS_PUBLISH_SCRIPT = """
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
local wanted = tonumber(ARGV[1])
local seq = last + 1
if wanted > 0 then
  if wanted <= last then return wanted end
  seq = wanted
end
local data = '{"seq":' .. seq .. ',' .. string.sub(ARGV[2], 2)
redis.call('SET', KEYS[1], seq, 'EX', ARGV[5])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], seq .. '-0', 't', ARGV[3], 'd', data)
redis.call('EXPIRE', KEYS[2], ARGV[5])
redis.call('PUBLISH', ARGV[6], data)
return seq
"""


async def test_an_instance_of_the_previous_release_publishes_alongside(
    redis_broker: RedisBroker,
) -> None:
    """During a rolling upgrade both releases publish on one channel: the offsets stay one
    sequence in one epoch, and a stream that hears the old release's event (no epoch) ends and
    comes back to exactly the events it missed."""
    broker = redis_broker
    channel = "user:9"
    epoch, _ = await broker.position(channel)
    for _ in range(2):
        await broker.publish(channel, {"type": "wallet"})

    async def snapshot() -> tuple[None, dict[str, str]]:
        return None, {}

    feed = ChannelFeed(broker, channel, 2, snapshot, epoch=epoch, keepalive_s=60)
    assert await feed.open() == []
    previous = broker.redis.register_script(PREVIOUS_PUBLISH_SCRIPT)
    offset_key, stream_key, _ = _keys(channel)
    topic = broker._topics + channel  # what the previous release publishes to, too
    args: list[str | int] = [0, '{"type":"wallet"}', "wallet", 50, TTL_S, topic]
    assert await previous(keys=[offset_key, stream_key], args=args) == 3
    assert await broker.publish(channel, {"type": "wallet"}) == 4
    assert await broker.position(channel) == (epoch, 4)
    async with asyncio.timeout(5):
        while (batch := await feed.next_batch()) is not None:
            assert batch == []  # nothing sent: the old release's event ends the feed
            waiter = feed.waiter()
            if waiter is not None:
                await waiter
    feed.close()
    back = ChannelFeed(broker, channel, 2, snapshot, epoch=epoch, keepalive_s=60)
    replay = await back.open()
    assert [(event.epoch, event.seq) for event in replay] == [(epoch, 3), (epoch, 4)]
    back.close()


async def test_a_burst_beyond_the_pool_waits_for_connections(broker: Broker) -> None:
    """Three times the Redis pool's connections wanted at once (streams reconnecting to an
    instance that just restarted, each redeeming its ticket): each waits for a connection
    instead of failing (redis-py's default pool raised MaxConnectionsError: a 500)."""
    from gamehub.redis_pool import MAX_CONNECTIONS

    keys = [f"burst:{uuid.uuid4().hex}:{n}" for n in range(3 * MAX_CONNECTIONS)]
    claimed = await asyncio.gather(*(broker.claim(key, 60) for key in keys))
    assert claimed == [True] * len(keys)
