"""Fixtures for the games tests: a funded player and helpers to read wallets and the ledger."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
from quart.typing import TestClientProtocol

from gamehub import ledger
from gamehub.db import transaction
from gamehub.runtime import Runtime
from tests.helpers import bearer, register

_references = itertools.count(1)


@dataclass
class Player:
    id: int
    username: str
    headers: dict[str, str]
    client_seed: str


async def new_player(client: TestClientProtocol) -> Player:
    data = await register(client)
    user = data["user"]
    return Player(user["id"], user["username"], bearer(data["access_token"]), user["client_seed"])


async def fund(runtime: Runtime, user_id: int, cents: int) -> None:
    """Credit a wallet through the ledger, as a confirmed M-Pesa deposit would."""
    async with transaction(runtime.sessions) as session:
        wallet = await ledger.open_wallet(session, user_id)
        clearing = await ledger.account_id(session, ledger.MPESA_CLEARING)
        await ledger.transfer(
            session,
            reference=f"test-funding:{user_id}:{next(_references)}",
            kind="deposit",
            debit=clearing,
            credit=wallet,
            amount=cents,
        )


async def balance(runtime: Runtime, user_id: int) -> int:
    async with runtime.sessions() as session:
        return (await ledger.wallet_balance(session, user_id)).balance


async def invariants(runtime: Runtime) -> list[str]:
    async with runtime.sessions() as session:
        return await ledger.check_invariants(session)


@pytest.fixture
async def player(client: TestClientProtocol, runtime: Runtime) -> Player:
    """A registered player with KES 1 000 in the wallet."""
    created = await new_player(client)
    await fund(runtime, created.id, 100_000)
    return created
