"""A bare one-transaction endpoint that load benchmarks measure beside the real ones.

`POST /bench/probe` runs the smallest transaction a money endpoint could run (an UPDATE …
RETURNING on a random row of 1 000 and an INSERT) through the same engine and session factory,
so a benchmark can report its figure as a ratio of this ceiling. create_app registers it only
with GAMEHUB_BENCH_ENDPOINTS=true, which production refuses. Its tables live outside the
migrated schema and are created on start.
"""

from __future__ import annotations

import random

from quart import Quart
from quart_schema import hide
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    MetaData,
    Table,
    func,
    insert,
    select,
    update,
)

from gamehub.db import BigIntPK, transaction, utcnow
from gamehub.runtime import EXTENSION, Runtime, runtime
from gamehub.settings import SettingsError

ROWS = 1_000
OPENING_BALANCE = 10**15

metadata = MetaData()
probe_wallets = Table(
    "bench_probe_wallets",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=False),
    Column("balance", BigInteger, nullable=False),
)
probe_entries = Table(
    "bench_probe_entries",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
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


async def probe() -> dict[str, object]:
    """One transaction: debit a random row if it covers 1, and record an entry."""
    wallet = random.randint(1, ROWS)
    async with transaction(runtime().sessions) as session:
        balance = (
            await session.execute(
                update(probe_wallets)
                .where(probe_wallets.c.id == wallet, probe_wallets.c.balance >= 1)
                .values(balance=probe_wallets.c.balance - 1)
                .returning(probe_wallets.c.balance)
            )
        ).scalar_one_or_none()
        await session.execute(
            insert(probe_entries).values(wallet_id=wallet, amount=1, created_at=utcnow())
        )
    return {"ok": True, "balance": balance}


def install(app: Quart) -> None:
    """Add the probe to an app whose settings enable it (never in production)."""
    rt: Runtime = app.extensions[EXTENSION]
    if rt.settings.is_production:
        raise SettingsError("refusing to install benchmark endpoints in production")

    @app.before_serving
    async def _create_tables() -> None:
        await _prepare(rt)

    app.add_url_rule("/bench/probe", "bench_probe", hide(probe), methods=["POST"])
