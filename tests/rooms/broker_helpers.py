"""Helpers for tests of either broker."""

from __future__ import annotations

from gamehub.rooms.broker import Broker, MemoryBroker


async def lose_everything(broker: Broker) -> None:
    """What a broker restarted empty (or flushed) looks like to its clients: every channel's
    offsets and history gone, while subscribers stay connected (as Redis pub/sub does through a
    FLUSHDB). The in-process broker loses its channels by forgetting the least recently used."""
    if isinstance(broker, MemoryBroker):
        kept = broker.max_channels
        broker.max_channels = 1
        await broker.position("test:evicts-the-others")
        broker.max_channels = kept
        return
    from gamehub.rooms.redis_broker import RedisBroker

    assert isinstance(broker, RedisBroker)
    await broker.redis.flushdb()
