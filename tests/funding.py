"""Fund a test player's wallet the way a completed M-Pesa deposit does (clearing → wallet)."""

from __future__ import annotations

import itertools
from typing import Any

from quart import Quart
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gamehub import ledger
from gamehub.db import transaction
from gamehub.runtime import EXTENSION, Runtime
from tests.helpers import register

_references = itertools.count(1)


async def fund(runtime: Runtime, user_id: int, cents: int) -> None:
    await fund_with(runtime.sessions, user_id, cents)


async def fund_with(sessions: async_sessionmaker[AsyncSession], user_id: int, cents: int) -> None:
    """`fund` with a session factory of one's own (no app in this process)."""
    async with transaction(sessions) as session:
        wallet = await ledger.open_wallet(session, user_id)
        clearing = await ledger.account_id(session, ledger.MPESA_CLEARING)
        await ledger.transfer(
            session,
            reference=f"test:fund:{user_id}:{next(_references)}",
            kind="deposit",
            debit=clearing,
            credit=wallet,
            amount=cents,
        )


async def books_balance(runtime: Runtime) -> list[str]:
    """Every broken invariant: the ledger's, and escrow left in closed rooms."""
    return await books_problems(runtime.sessions)


async def books_problems(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    """`books_balance` with a session factory of one's own (no app in this process)."""
    from gamehub.rooms import store

    async with sessions() as session:
        return await ledger.check_invariants(session) + await store.escrow_problems(session)


async def funded_players(app: Quart, count: int, cents: int = 100_000) -> list[dict[str, Any]]:
    """Register `count` new players and fund each wallet; their registration bodies."""
    runtime: Runtime = app.extensions[EXTENSION]
    client = app.test_client()
    players = []
    for _ in range(count):
        data = await register(client)
        await fund(runtime, data["user"]["id"], cents)
        players.append(data)
    return players
