"""Raw asyncpg connections for PostgreSQL hot paths, beside SQLAlchemy's pool.

A statement through an SQLAlchemy session costs several times the client CPU of the same
statement on a bare asyncpg connection (docs/BENCHMARKS.md), and on this product's hot paths
(authenticating a request, a spin, a room command) that CPU is the ceiling. Those few
statements run here; everything else stays on SQLAlchemy.
"""

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

# A `:name` outside quotes (quoted text and `::type` casts are left alone).
if TYPE_CHECKING:
    Connection: TypeAlias = PoolConnectionProxy[Record]
else:
    Connection = PoolConnectionProxy

_DIALECT = asyncpg_dialect()  # type: ignore[no-untyped-call]  # (SQLAlchemy's is untyped)
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
        """An SQLAlchemy Core statement compiled once for the bare driver, so that a statement
        is written once whichever layer runs it; `names` are its bind parameters (given at each
        call), and its literal values travel as parameters too."""
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
    """Between borrowers: the hot paths send single autocommit statements and change no session
    state, so asyncpg's default reset (a round trip of UNLISTEN, RESET ALL, … on every release)
    is replaced by ending a transaction only if one was left open."""
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
        # The pool's own queue lets newcomers take a connection ahead of those waiting
        # (workarounds/fair_gate.py): borrowers wait here instead, in order, and only as many
        # as the pool has connections ever ask it, so its queue never makes anyone wait.
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
            # No timeout here: asyncpg would wrap the acquire in a task of its own, and the
            # gate has already made sure a connection is free (or being connected).
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
