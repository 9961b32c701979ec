"""Raw asyncpg connections for PostgreSQL hot paths, beside SQLAlchemy's pool: a session costs
several times the client CPU per statement (docs/ARCHITECTURE.md, "Why the unusual choices")."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeAlias, cast

import asyncpg
from asyncpg import Record
from asyncpg.pool import PoolConnectionProxy
from sqlalchemy import ClauseElement, Executable
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.engine import make_url
from sqlalchemy.sql.compiler import SQLCompiler

from gamehub.db import is_loopback
from gamehub.workarounds.fair_gate import FairGate, GateTimeout

if TYPE_CHECKING:
    Connection: TypeAlias = PoolConnectionProxy[Record]
else:
    Connection = PoolConnectionProxy

_DIALECT = asyncpg_dialect()  # type: ignore[no-untyped-call]  # (SQLAlchemy's is untyped)
# A `:name` outside quotes (quoted text and `::type` casts are left alone).
_NAMED = re.compile(r"'[^']*'|(?<![:\w]):([a-z_][a-z0-9_]*)")


class Sql:
    """A statement written with `:name` parameters, sent to asyncpg as `$n` positionals."""

    def __init__(self, text: str, defaults: dict[str, Any] | None = None) -> None:
        self.names: list[str] = []

        def number(match: re.Match[str]) -> str:
            name = match.group(1)
            if name is None:
                return match.group(0)
            if name not in self.names:
                self.names.append(name)
            return f"${self.names.index(name) + 1}"

        self.text = _NAMED.sub(number, text)
        self._defaults = defaults or {}

    @classmethod
    def compiled(cls, statement: Executable, *names: str) -> Sql:
        """An SQLAlchemy Core statement compiled once for the bare driver (written once for
        both layers); `names` are its bind parameters, its literals travel as parameters too."""
        placeholders = cast(ClauseElement, statement).params(dict.fromkeys(names))
        compiled = cast(
            SQLCompiler,
            placeholders.compile(dialect=_DIALECT, compile_kwargs={"render_postcompile": True}),
        )
        sql = cls.__new__(cls)
        sql.text = compiled.string
        sql.names = list(compiled.positiontup or [])
        sql._defaults = dict(compiled.construct_expanded_state().parameters)
        return sql

    def args(self, params: dict[str, Any]) -> list[Any]:
        return [params[n] if n in params else self._defaults[n] for n in self.names]

    async def fetch(self, connection: Connection, **params: Any) -> list[Record]:
        return await connection.fetch(self.text, *self.args(params))

    async def fetchrow(self, connection: Connection, **params: Any) -> Record | None:
        return await connection.fetchrow(self.text, *self.args(params))

    async def fetchval(self, connection: Connection, **params: Any) -> Any:
        return await connection.fetchval(self.text, *self.args(params))

    async def execute(self, connection: Connection, **params: Any) -> None:
        await connection.execute(self.text, *self.args(params))


def asyncpg_dsn(database_url: str) -> str:
    """The libpq-style address asyncpg takes, from the SQLAlchemy URL."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(False)


async def _reset(connection: asyncpg.Connection) -> None:
    """Between borrowers, instead of asyncpg's reset round trip (UNLISTEN, RESET ALL, …): the
    hot paths change no session state, so only a transaction left open is ended."""
    if connection.is_in_transaction():
        await connection.execute("ROLLBACK")


class PoolExhausted(Exception):
    """Every raw connection stayed busy past the acquire timeout (answered 503 `overloaded`)."""


# As long as SQLAlchemy's pool waits (db.create_engine), so both overload the same way.
ACQUIRE_TIMEOUT_S = 60.0


class RawPool:
    """A small asyncpg pool, opened on first use (in the serving loop) and closed with the app."""

    def __init__(self, database_url: str, size: int) -> None:
        self._dsn = asyncpg_dsn(database_url)
        self._size = size
        self._local = is_loopback(database_url)
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()
        # Borrowers wait in order here (workarounds/fair_gate.py), never in the pool's queue.
        self._gate = FairGate(size)

    async def _open(self) -> asyncpg.Pool:
        async with self._opening:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    self._dsn,
                    min_size=1,
                    max_size=self._size,
                    ssl=False if self._local else None,
                    max_inactive_connection_lifetime=300,
                    reset=_reset,
                )
            return self._pool

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        pool = self._pool or await self._open()
        try:
            await self._gate.enter(ACQUIRE_TIMEOUT_S)
        except GateTimeout:
            raise PoolExhausted(f"no raw connection within {ACQUIRE_TIMEOUT_S} s") from None
        try:
            # No timeout (asyncpg would add a task): the gate made sure a connection is free.
            connection = await pool.acquire()
            try:
                yield connection
            finally:
                await pool.release(connection)
        finally:
            self._gate.leave()

    async def fetchrow(self, sql: Sql, params: dict[str, Any]) -> Record | None:
        async with self.connection() as connection:
            return await sql.fetchrow(connection, **params)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
