"""The one way this app opens a Redis client: a blocking pool, so a burst of borrowers queues for a
connection (up to WAIT_S) instead of failing past MAX_CONNECTIONS with a 500."""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis

MAX_CONNECTIONS = 100
WAIT_S = 10.0


def redis_client(url: str) -> Redis:
    pool = BlockingConnectionPool.from_url(
        url, decode_responses=True, max_connections=MAX_CONNECTIONS, timeout=WAIT_S
    )
    return Redis(connection_pool=pool)
