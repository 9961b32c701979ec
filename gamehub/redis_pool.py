"""The one way this app opens a Redis client: a pool whose borrowers wait for a connection.

redis-py's default pool holds at most 100 connections and raises MaxConnectionsError past them;
a burst of requests that each need Redis at once (hundreds of streams reconnecting to an
instance that just restarted, each redeeming its ticket) answered 500. A blocking pool makes
the burst queue for a connection instead, for up to WAIT_S, which is what a caller would do.
"""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis

MAX_CONNECTIONS = 100
WAIT_S = 10.0


def redis_client(url: str) -> Redis:
    pool = BlockingConnectionPool.from_url(
        url, decode_responses=True, max_connections=MAX_CONNECTIONS, timeout=WAIT_S
    )
    return Redis(connection_pool=pool)
