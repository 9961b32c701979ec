"""Broker fixtures: `broker` runs a test on the in-process broker and on Redis; `redis_broker`
on Redis only (what only Redis does: being shared by processes, and by releases)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

from gamehub.rooms.broker import Broker, MemoryBroker
from tests.backends import unavailable

if TYPE_CHECKING:
    from gamehub.rooms.redis_broker import RedisBroker


async def _flushed_redis_broker() -> RedisBroker:
    url = os.environ.get("GAMEHUB_TEST_REDIS_URL")
    if not url:
        unavailable("set GAMEHUB_TEST_REDIS_URL to test the Redis broker")
        raise AssertionError("unreachable")
    from gamehub.rooms.redis_broker import RedisBroker

    instance = RedisBroker(url, history_size=50)
    await instance.redis.flushdb()
    return instance


@pytest.fixture(params=["memory", "redis"])
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[Broker]:
    if request.param == "memory":
        instance: Broker = MemoryBroker(history_size=50)
    else:
        instance = await _flushed_redis_broker()
    await instance.start()
    try:
        yield instance
    finally:
        await instance.close()


@pytest.fixture
async def redis_broker() -> AsyncIterator[RedisBroker]:
    instance = await _flushed_redis_broker()
    await instance.start()
    try:
        yield instance
    finally:
        await instance.close()
