"""The two backends every app-level test runs on: embedded (SQLite + in-process broker) and
services (PostgreSQL + Redis from GAMEHUB_TEST_DATABASE_URL / GAMEHUB_TEST_REDIS_URL)."""

from __future__ import annotations

import asyncio
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text

from gamehub.db import create_engine
from gamehub.migrate import upgrade
from gamehub.settings import normalise_database_url

# Rows these tables get from migrations survive the per-test cleanup.
SEEDED_TABLES = frozenset({"alembic_version", "games"})
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@dataclass(frozen=True)
class Backend:
    name: str
    database_url: str
    redis_url: str | None
    template: Path | None = None  # migrated SQLite file that each test copies

    def fresh_database_url(self, folder: Path) -> str:
        if self.template is None:
            return self.database_url
        target = folder / "gamehub.sqlite3"
        shutil.copyfile(self.template, target)
        return f"sqlite+aiosqlite:///{target}"


def unavailable(reason: str) -> None:
    """In CI a missing service fails the run; on a newcomer's machine it skips, saying why."""
    if IN_CI:
        pytest.fail(f"CI needs the services backend: {reason}", pytrace=False)
    pytest.skip(f"services backend (PostgreSQL + Redis) not tested: {reason}")


def embedded_backend(folder: Path) -> Backend:
    template = folder / "template.sqlite3"
    upgrade(f"sqlite+aiosqlite:///{template}")
    return Backend("embedded", "", None, template)


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


async def clean_services(database_url: str, redis_url: str) -> None:
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
    client = Redis.from_url(redis_url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()
