"""`POST /bench/probe`: the smallest money-like transaction on the hot paths' driver, the ceiling
load benchmarks report against; only with GAMEHUB_BENCH_ENDPOINTS (refused in production)."""

from __future__ import annotations

import random

from quart import Quart
from quart_schema import hide
from sqlalchemy import BigInteger, Column, DateTime, MetaData, Table, func, insert, select

from gamehub.db import transaction, utcnow
from gamehub.pg import Sql
from gamehub.runtime import EXTENSION, Runtime, runtime
from gamehub.settings import SettingsError

ROWS = 1_000
OPENING_BALANCE = 10**15

metadata = MetaData()
probe_wallets = Table(
    "bench_probe_wallets",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("balance", BigInteger, nullable=False),
)
probe_entries = Table(
    "bench_probe_entries",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("wallet_id", BigInteger, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


async def _prepare(rt: Runtime) -> None:
    async with rt.engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    async with transaction(rt.sessions) as session:
        if not await session.scalar(select(func.count()).select_from(probe_wallets)):
            await session.execute(
                insert(probe_wallets),
                [{"id": i, "balance": OPENING_BALANCE} for i in range(1, ROWS + 1)],
            )


# One statement on the hot paths' bare driver, as the spin is: the ceiling it is held to.
_PROBE = Sql(
    """
    WITH debit AS (
        UPDATE bench_probe_wallets SET balance = balance - 1
        WHERE id = :wallet AND balance >= 1
        RETURNING id, balance
    ), entry AS (
        INSERT INTO bench_probe_entries (wallet_id, amount, created_at)
        SELECT id, 1, :now FROM debit
    )
    SELECT balance FROM debit
    """
)


async def probe() -> dict[str, object]:
    """One transaction: debit a random row if it covers 1, and record an entry."""
    wallet = random.randint(1, ROWS)
    rt = runtime()
    row = await rt.pg.fetchrow(_PROBE, {"wallet": wallet, "now": utcnow()})
    return {"ok": True, "balance": None if row is None else row["balance"]}


def install(app: Quart) -> None:
    """Add the probe to an app whose settings enable it (never in production)."""
    rt: Runtime = app.extensions[EXTENSION]
    if rt.settings.is_production:
        raise SettingsError("refusing to install benchmark endpoints in production")

    @app.before_serving
    async def _create_tables() -> None:
        await _prepare(rt)

    app.add_url_rule("/bench/probe", "bench_probe", hide(probe), methods=["POST"])
