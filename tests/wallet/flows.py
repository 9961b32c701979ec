"""Small steps the wallet tests share: scenario phones, paying in, waiting for an outcome."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

from gamehub import ledger
from gamehub.db import transaction
from gamehub.money import shillings
from tests.wallet.conftest import Live, Player

_funding = itertools.count(1)


def phone(scenario: str) -> str:
    """A phone whose last two digits pick the sandbox scenario."""
    return f"2547123456{scenario}"


async def post(live: Live, player: Player, path: str, body: Any, **headers: str) -> Any:
    return await live.http.post(path, json=body, headers={**player.headers, **headers})


async def wallet(live: Live, player: Player) -> dict[str, str]:
    response = await live.http.get("/wallet", headers=player.headers)
    assert response.status_code == 200
    body: dict[str, str] = response.json()
    return body


async def transaction_of(live: Live, player: Player, transaction_id: int) -> dict[str, Any]:
    response = await live.http.get(f"/transactions/{transaction_id}", headers=player.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def settled(
    live: Live, player: Player, transaction_id: int, timeout: float = 10.0
) -> dict[str, Any]:
    """The transaction once it is no longer pending (fails the test after `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        found = await transaction_of(live, player, transaction_id)
        if found["status"] != "pending":
            return found
        assert time.monotonic() < deadline, f"still pending: {found}"
        await asyncio.sleep(0.02)


async def fund(live: Live, player: Player, kes: int) -> None:
    """Put money in a wallet as a confirmed deposit would (test set-up, through the ledger)."""
    async with transaction(live.rt.sessions) as session:
        clearing = await ledger.account_id(session, ledger.MPESA_CLEARING)
        wallet_id = await ledger.open_wallet(session, player.id)
        await ledger.transfer(
            session,
            reference=f"test-funding:{next(_funding)}:{player.id}",
            kind="deposit",
            debit=clearing,
            credit=wallet_id,
            amount=shillings(kes),
        )


async def eventually(check: Any, timeout: float = 5.0) -> None:
    """Wait until the async predicate `check()` is true."""
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition never became true"
        await asyncio.sleep(0.02)
