"""The broker fixture: each broker test runs on the in-process broker and on Redis."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from gamehub.rooms.broker import Broker, MemoryBroker
from tests.backends import unavailable


@pytest.fixture(params=["memory", "redis"])
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[Broker]:
    if request.param == "memory":
        instance: Broker = MemoryBroker(history_size=50)
    else:
        url = os.environ.get("GAMEHUB_TEST_REDIS_URL")
        if not url:
            unavailable("set GAMEHUB_TEST_REDIS_URL to test the Redis broker")
            raise AssertionError("unreachable")
        from gamehub.rooms.redis_broker import RedisBroker

        redis_broker = RedisBroker(url, history_size=50)
        await redis_broker.redis.flushdb()
        instance = redis_broker
    await instance.start()
    try:
        yield instance
    finally:
        await instance.close()
