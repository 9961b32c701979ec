"""The database engine, the session factory and the declarative Base with a naming convention."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, MetaData, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY, so big integer keys become INTEGER there.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use datetime.now(UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso_utc(moment: datetime) -> str:
    """A timestamp as the API shows it: ISO 8601 in UTC with a `Z`."""
    return moment.isoformat().replace("+00:00", "Z")


def dialect_insert(session: AsyncSession, table: Any) -> Any:
    """An INSERT for the session's database that supports `on_conflict_do_nothing`."""
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return module.insert(table)


def is_loopback(url: str) -> bool:
    """A database on this machine: no TLS to negotiate."""
    return "127.0.0.1" in url or "localhost" in url


def create_engine(url: str, *, pool_size: int = 20, max_overflow: int = 20) -> AsyncEngine:
    """Create the async engine; SQLite gets WAL, a busy timeout and write-locking transactions."""
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})
        _make_sqlite_transactions_immediate(engine)
        return engine
    # No pre-ping: on asyncpg it is a whole extra transaction per checkout; a dropped
    # connection still invalidates the pool on its first error, and recycling bounds staleness.
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_recycle=1800,
        pool_timeout=60,
        connect_args={"ssl": False} if is_loopback(url) else {},
    )


WRITE = "gamehub_write"


def _make_sqlite_transactions_immediate(engine: AsyncEngine) -> None:
    # A deferred SQLite transaction that reads and then writes can fail with "database is locked"
    # without waiting; BEGIN IMMEDIATE takes the write lock up front so concurrent writers queue
    # on the busy timeout instead, which is what makes check-then-debit safe on SQLite. Reads stay
    # deferred: in WAL mode they never block a writer, even one abandoned by a cancelled task.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(
            "BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE) else "BEGIN"
        )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def reader_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for single-statement reads on hot paths: autocommit, so no BEGIN/ROLLBACK
    round trips (one statement already sees one consistent snapshot). SQLite keeps plain
    sessions: switching a pooled SQLite connection's isolation level back and forth would undo
    the explicit BEGIN handling above."""
    if engine.dialect.name == "sqlite":
        return session_factory(engine)
    return async_sessionmaker(
        engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
    )


@asynccontextmanager
async def transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One session in one write transaction: committed on success, rolled back on error."""
    async with sessions() as session, session.begin():
        await session.connection(execution_options={WRITE: True})
        yield session
