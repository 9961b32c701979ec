"""Races: a hundred withdrawals of the whole balance at once hold it exactly once; deposits at
once cannot together pass the daily cap."""

from __future__ import annotations

import asyncio
from collections import Counter

from sqlalchemy import func, select

from gamehub.models import Hold, Transaction
from tests.wallet.conftest import Live, new_player
from tests.wallet.flows import fund, phone, post, wallet


async def test_hundred_concurrent_withdrawals_of_the_whole_balance(live: Live) -> None:
    player = await new_player(live)
    await fund(live, player, 1000)
    body = {"amount": 1000, "phone": phone("04")}  # paid without a callback: stays held
    responses = await asyncio.gather(*(post(live, player, "/withdraw", body) for _ in range(100)))
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {202: 1, 409: 99}, statuses
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {
        "insufficient_funds"
    }
    assert await wallet(live, player) == {
        "balance": "1000.00",
        "held": "1000.00",
        "available": "0.00",
        "currency": "KES",
    }
    async with live.rt.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Transaction)) == 1
        assert await session.scalar(select(func.count()).select_from(Hold)) == 1
    assert len(live.sandbox.state.payments) == 1


async def test_concurrent_deposits_respect_the_daily_cap(live: Live) -> None:
    player = await new_player(live)
    body = {"amount": 200_000, "phone": phone("04")}
    responses = await asyncio.gather(*(post(live, player, "/deposit", body) for _ in range(10)))
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {202: 2, 409: 8}, statuses
