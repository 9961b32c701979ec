"""Which house ledger account a player's bets and payouts go through: one of the house's
sub-accounts (all of kind "house") chosen by player, so that no one row serialises every spin."""

from __future__ import annotations

from gamehub import ledger, taxes
from gamehub.db import transaction
from gamehub.runtime import Runtime

_CACHE_KEY = "games.house_account_ids"


def house_code(user_id: int) -> str:
    return ledger.house_shard(user_id)


async def house_account(rt: Runtime, user_id: int) -> int:
    """The id of the house sub-account for this player's game money (remembered per process)."""
    return await _remembered_account(rt, house_code(user_id), "house")


async def withholding_account(rt: Runtime, user_id: int) -> int:
    """The id of the tax sub-account this player's spins' withholding goes to (remembered)."""
    return await _remembered_account(rt, taxes.withholding_account("spin", user_id), "tax")


async def _remembered_account(rt: Runtime, code: str, kind: str) -> int:
    """Ids never change once opened; each is opened in a transaction of its own, so that the id
    remembered is never one a rolled-back spin had opened."""
    ids = rt.extras.setdefault(_CACHE_KEY, {})
    assert isinstance(ids, dict)
    found = ids.get(code)
    if found is None:
        async with transaction(rt.sessions) as session:
            found = await ledger.account_id(session, code, kind)
        ids[code] = found
    return int(found)
