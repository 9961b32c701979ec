"""The Redis broker: per-channel bounded streams, one atomic publish script, and one pub/sub
connection per process that fans events out to local subscribers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gamehub.redis_pool import redis_client
from gamehub.rooms.broker import HISTORY_SIZE, Epochs, Event, Subscription, _LocalFanout

log = logging.getLogger(__name__)

PREFIX = "gamehub:"
# Kept well past the contract's 24 h after a room ends; refreshed by every publish.
TTL_S = 48 * 3600

# A channel has an offset key (its last seq; an integer, as before epochs, so the previous
# release can publish during a rolling upgrade), a bounded stream, and an epoch key if the broker
# numbers it. A missing offset key is a new or lost stream: what is left of an old one goes.
READ_HEAD = """
local head = redis.call('MGET', KEYS[1], KEYS[3])
local last, epoch = tonumber(head[1]), head[2]
local fresh = not last
if fresh then
  last, epoch = 0, false
  redis.call('DEL', KEYS[2])
end
"""

# Next offset, XADD with MAXLEN and PUBLISH in one step, so offsets never skip or repeat. A
# caller-chosen seq at or below the last is a no-op (and such a channel has no epoch); an event
# the broker numbers carries its epoch in its JSON after `seq`, as `encode` writes it.
PUBLISH_SCRIPT = (
    READ_HEAD
    + """
local wanted = tonumber(ARGV[1])
local seq = last + 1
local data
if wanted > 0 then
  if wanted <= last then return wanted end
  seq = wanted
  data = '{"seq":' .. seq .. ',' .. string.sub(ARGV[2], 2)
else
  epoch = epoch or ARGV[7]
  data = '{"seq":' .. seq .. ',"epoch":"' .. epoch .. '",' .. string.sub(ARGV[2], 2)
  redis.call('SET', KEYS[3], epoch, 'EX', ARGV[5])
end
redis.call('SET', KEYS[1], seq, 'EX', ARGV[5])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], seq .. '-0', 't', ARGV[3], 'd', data)
redis.call('EXPIRE', KEYS[2], ARGV[5])
redis.call('PUBLISH', ARGV[6], data)
return seq
"""
)


# The same, for an event numbered and encoded by its publisher (a room's actor).
PUBLISH_EXACT_SCRIPT = """
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
local seq = tonumber(ARGV[1])
if seq <= last then return 0 end
redis.call('SET', KEYS[1], seq, 'EX', ARGV[5])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], seq .. '-0', 't', ARGV[3], 'd', ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[5])
redis.call('PUBLISH', ARGV[6], ARGV[2])
return seq
"""

# A channel's epoch and last seq; a channel without an epoch gets the caller's (and, if new, its
# offset key, so that its first publish keeps it).
POSITION_SCRIPT = (
    READ_HEAD
    + """
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[3], epoch, 'EX', ARGV[2])
  if fresh then redis.call('SET', KEYS[1], 0, 'EX', ARGV[2]) end
end
return {last, epoch}
"""
)


def _keys(channel: str) -> tuple[str, str, str]:
    """The channel's offset, stream and epoch keys, on one Redis Cluster slot (the hash tag)."""
    tag = "{" + PREFIX + channel + "}"
    return f"{tag}:offset", f"{tag}:stream", f"{tag}:epoch"


class RedisBroker:
    def __init__(self, url: str, history_size: int = HISTORY_SIZE) -> None:
        self.redis: Redis = redis_client(url)
        self.history_size = history_size
        self._fanout = _LocalFanout()
        self._script = self.redis.register_script(PUBLISH_SCRIPT)
        self._exact = self.redis.register_script(PUBLISH_EXACT_SCRIPT)
        self._position = self.redis.register_script(POSITION_SCRIPT)
        self._epochs = Epochs()
        self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        # The topics asked of Redis and not given up (under `_lock`); not the pub/sub object's
        # `channels`, where a topic stays until its UNSUBSCRIBE is confirmed (a subscriber
        # arriving meanwhile sent nothing and never heard a thing).
        self._listening: set[str] = set()
        self._pending: set[asyncio.Task[None]] = set()
        # Pub/sub channels are server-wide: named after the database, deployments stay apart.
        database = self.redis.connection_pool.connection_kwargs.get("db", 0)
        self._topics = f"{PREFIX}{database}:"

    async def start(self) -> None:
        await self._pubsub.subscribe(self._topics + "control")
        self._reader = asyncio.create_task(self._read(), name="redis-broker-reader")

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        with contextlib.suppress(RedisError):
            await self._pubsub.aclose()
        await self.redis.aclose()

    async def _read(self) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except (RedisError, OSError) as error:
                log.warning("broker: pub/sub connection lost (%s); subscribers will replay", error)
                self._cut_off_everyone()
                await asyncio.sleep(0.5)
                continue
            if message is None or message.get("type") != "message":
                continue
            channel = str(message["channel"]).removeprefix(self._topics)
            data = str(message["data"])
            head = json.loads(data)
            epoch = str(head.get("epoch", ""))
            event = Event(channel, int(head["seq"]), str(head["type"]), data, epoch)
            self._fanout.deliver(event)

    def _cut_off_everyone(self) -> None:
        # Messages published while the connection was down are lost to pub/sub; the streams
        # still have them, so each subscriber reconnects and replays from its last seq.
        for members in list(self._fanout.subscribers.values()):
            for subscription in list(members):
                subscription.cut_off()

    async def publish(self, channel: str, body: dict[str, Any], seq: int | None = None) -> int:
        text = json.dumps(body, separators=(",", ":"), default=str)
        result = await self._script(
            keys=list(_keys(channel)),
            args=[
                seq or 0,
                text,
                body["type"],
                self.history_size,
                TTL_S,
                self._topics + channel,
                self._epochs(),  # taken only by a channel without an epoch
            ],
        )
        return int(result)

    async def publish_event(self, event: Event) -> None:
        offset_key, stream_key, _ = _keys(event.channel)
        topic = self._topics + event.channel
        await self._exact(
            keys=[offset_key, stream_key],
            args=[event.seq, event.data, event.type, self.history_size, TTL_S, topic],
        )

    async def history(
        self, channel: str, since: int, epoch: str | None = None
    ) -> list[Event] | None:
        offset_key, stream_key, epoch_key = _keys(channel)
        # One round trip, and the head and the entries from one moment.
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.mget(offset_key, epoch_key)
            pipe.xrange(stream_key, min=f"{since + 1}-0", max="+")
            (value, stored), entries = await pipe.execute()
        last, stored = int(value or 0), str(stored or "")
        if (epoch is not None and epoch != stored) or since > last:
            return None
        if since == last:
            return []
        events = [
            Event(channel, int(entry_id.split("-")[0]), fields["t"], fields["d"], stored)
            for entry_id, fields in entries
        ]
        if not events or events[0].seq != since + 1:
            return None
        return events

    async def last_seq(self, channel: str) -> int:
        offset_key, _, _ = _keys(channel)
        return int(await self.redis.get(offset_key) or 0)

    async def position(self, channel: str) -> tuple[str, int]:
        result = await self._position(keys=list(_keys(channel)), args=[self._epochs(), TTL_S])
        last, epoch = result
        return str(epoch), int(last)

    async def last_seqs(self, channels: list[str]) -> list[int]:
        if not channels:
            return []
        offsets = await self.redis.mget([_keys(channel)[0] for channel in channels])
        return [int(offset or 0) for offset in offsets]

    async def subscribe(self, channel: str) -> Subscription:
        """A live subscription, active in Redis before this returns (so no event slips by)."""
        subscription = self._fanout.add(channel)
        topic = self._topics + channel
        try:
            async with self._lock:
                if topic not in self._listening:
                    await self._pubsub.subscribe(topic)
                    self._listening.add(topic)
        except BaseException:
            self._fanout.remove(subscription)  # nobody will hold it to unsubscribe
            raise
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        if self._fanout.remove(subscription):
            task = asyncio.get_running_loop().create_task(self._drop(subscription.channel))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _drop(self, channel: str) -> None:
        async with self._lock:
            if channel in self._fanout.subscribers:
                return  # someone subscribed again meanwhile
            topic = self._topics + channel
            self._listening.discard(topic)
            try:
                await self._pubsub.unsubscribe(topic)
            except RedisError as error:
                log.warning("broker: cannot unsubscribe %s: %s", channel, error)

    async def claim(self, key: str, ttl_s: int) -> bool:
        return bool(await self.redis.set(PREFIX + key, "1", nx=True, ex=max(1, ttl_s)))

    async def ping(self) -> bool:
        return bool(await self.redis.ping())
