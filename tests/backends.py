"""The two backends every app-level test runs on: embedded (the embedded default's own
PostgreSQL, started by the tests, + the in-process broker) and services (PostgreSQL + Redis from
GAMEHUB_TEST_DATABASE_URL / GAMEHUB_TEST_REDIS_URL)."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text

from gamehub import embedded_pg
from gamehub.db import create_engine
from gamehub.migrate import upgrade
from gamehub.pg import asyncpg_dsn
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

    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        cleaning = _cleanings.get(database_url)
        if cleaning is None:
            cleaning = _cleanings[database_url] = await _cleaning(connection)
        await connection.execute(cleaning)
    finally:
        await connection.close()
    if redis_url is None:
        return
    client = Redis.from_url(redis_url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


# The statements that empty a database's tables, by database (its schema is the migrations').
_cleanings: dict[str, str] = {}


async def _cleaning(connection: asyncpg.Connection) -> str:
    """What empties the tables as TRUNCATE ... RESTART IDENTITY CASCADE did, in one round trip
    and at a fraction of its cost (docs/BENCHMARKS.md): a test leaves a few rows, and DELETE
    removes them where TRUNCATE made new files for every table and index, each test. Children
    go before their parents; a table whose triggers refuse DELETE (the append-only audit
    trail) is truncated, only when it has rows; the id sequences that were used start again."""
    tables = [
        row["name"]
        for row in await connection.fetch(
            "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'"
        )
        if row["name"] not in SEEDED_TABLES
    ]
    references = await connection.fetch(
        "SELECT c.conrelid::regclass::text AS child, c.confrelid::regclass::text AS parent"
        " FROM pg_constraint c WHERE c.contype = 'f' AND c.conrelid <> c.confrelid"
    )
    guarded = {
        row["name"]
        for row in await connection.fetch(
            "SELECT DISTINCT tgrelid::regclass::text AS name FROM pg_trigger"
            " WHERE NOT tgisinternal AND (tgtype & 8) <> 0"  # fires on DELETE
        )
    }
    sequences = await connection.fetch(
        "SELECT d.refobjid::regclass::text AS owner, s.seqrelid::regclass::text AS sequence,"
        " s.seqstart AS start FROM pg_sequence s JOIN pg_depend d ON d.objid = s.seqrelid"
        " AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')"
    )
    order = _children_first(tables, [(row["child"], row["parent"]) for row in references])
    if order is None or any(
        row["child"] in guarded or row["parent"] in guarded for row in references
    ):  # a schema this cannot empty row by row: as before
        quoted = ", ".join(f'"{name}"' for name in tables)
        return f"TRUNCATE {quoted} RESTART IDENTITY CASCADE" if tables else "SELECT 1"
    statements = [f'DELETE FROM "{name}"' for name in order if name not in guarded]
    statements += [
        f'DO $$ BEGIN IF EXISTS (SELECT FROM "{name}") THEN TRUNCATE "{name}"; END IF; END $$'
        for name in order
        if name in guarded
    ]
    restarts = [
        f"('{row['sequence']}'::regclass, {row['start']})"
        for row in sequences
        if row["owner"] in tables
    ]
    if restarts:
        statements.append(
            f"SELECT setval(seq, start, false) FROM (VALUES {', '.join(restarts)})"
            " AS used(seq, start) WHERE pg_sequence_last_value(seq) IS NOT NULL"
        )
    return ";\n".join(statements)


def _children_first(tables: list[str], references: list[tuple[str, str]]) -> list[str] | None:
    """The tables ordered so that none comes after a table it references (None: a cycle)."""
    order: list[str] = []
    left = list(tables)
    while left:
        ready = [
            name
            for name in left
            if not any(parent == name and child in left for child, parent in references)
        ]
        if not ready:
            return None
        order += ready
        left = [name for name in left if name not in ready]
    return order
