"""The per-app runtime (settings, database, broker) and how request code reaches it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from quart import current_app
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from gamehub.ratelimit import Limiter, MemoryLimiter
from gamehub.settings import Settings

if TYPE_CHECKING:
    from gamehub.connections import Connections
    from gamehub.pg import RawPool
    from gamehub.rooms.broker import Broker
    from gamehub.wallet.gateway import Gateway

EXTENSION = "gamehub"


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    readers: async_sessionmaker[AsyncSession]
    broker: Broker
    pg: RawPool  # bare asyncpg connections for the hot paths
    gateway: Gateway | None = None  # M-Pesa (set by create_app)
    connections: Connections | None = None  # set by create_app
    limiter: Limiter = field(default_factory=MemoryLimiter)
    extras: dict[str, object] = field(default_factory=dict)


def runtime() -> Runtime:
    return cast(Runtime, current_app.extensions[EXTENSION])
