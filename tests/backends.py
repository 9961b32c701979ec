"""The two backends every app-level test runs on: embedded (the embedded default's own
PostgreSQL, started by the tests, + the in-process broker) and services (PostgreSQL + Redis from
GAMEHUB_TEST_DATABASE_URL / GAMEHUB_TEST_REDIS_URL)."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text

from gamehub import embedded_pg
from gamehub.db import create_engine
from gamehub.migrate import upgrade
from gamehub.settings import normalise_database_url

# Rows these tables get from migrations survive the per-test cleanup.
SEEDED_TABLES = frozenset({"alembic_version", "games"})
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


# The tests' embedded server trades durability for speed: a crash loses nothing worth keeping.
FAST_AND_LOOSE = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


@dataclass(frozen=True)
class Backend:
    name: str
    database_url: str
    redis_url: str | None


def unavailable(reason: str, what: str = "services backend (PostgreSQL + Redis)") -> None:
    """In CI a missing service fails the run; on a newcomer's machine it skips, saying why."""
    if IN_CI:
        pytest.fail(f"CI must test the {what}: {reason}", pytrace=False)
    pytest.skip(f"{what} not tested: {reason}")


def embedded_backend(folder: Path) -> Backend:
    """A PostgreSQL of the tests' own, as `gamehub serve` starts one (stopped at exit)."""
    url = embedded_pg.start(folder / "postgres", database="test", settings=FAST_AND_LOOSE)
    asyncio.run(_reset_postgres(url))
    upgrade(url)
    return Backend("embedded", url, None)


def services_backend() -> Backend:
    database_url = os.environ.get("GAMEHUB_TEST_DATABASE_URL")
    redis_url = os.environ.get("GAMEHUB_TEST_REDIS_URL")
    if not database_url or not redis_url:
        unavailable("set GAMEHUB_TEST_DATABASE_URL and GAMEHUB_TEST_REDIS_URL to run it")
        raise AssertionError("unreachable")
    database_url = normalise_database_url(database_url)
    try:
        asyncio.run(_reset_postgres(database_url))
        asyncio.run(_ping_redis(redis_url))
    except Exception as error:
        unavailable(f"cannot reach it ({type(error).__name__}: {error})")
    upgrade(database_url)
    return Backend("services", database_url, redis_url)


async def _reset_postgres(url: str) -> None:
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        async with asyncio.timeout(10), engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


async def _ping_redis(url: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        async with asyncio.timeout(5):
            await client.ping()
    finally:
        await client.aclose()


async def clean_services(database_url: str, redis_url: str | None) -> None:
    """Empty every table but the seeded ones, and the Redis database, before a test."""
    from redis.asyncio import Redis

    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with engine.begin() as connection:
            names = (
                await connection.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                )
            ).scalars()
            tables = [name for name in names if name not in SEEDED_TABLES]
            if tables:
                quoted = ", ".join(f'"{name}"' for name in tables)
                await connection.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()
    if redis_url is None:
        return
    client = Redis.from_url(redis_url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()
