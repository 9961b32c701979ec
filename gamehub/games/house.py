"""Which house ledger account a player's bets and payouts go through.

Every spin credits the house with the bet and debits it with the win. With one house row, every
spin of every player would queue on that row's lock from its first house update to its commit;
spreading players over a fixed set of house sub-accounts (all of kind "house", so the ledger's
invariants are unchanged and the house's result is the sum over kind "house") removes that
bottleneck.
"""

from __future__ import annotations

from gamehub import ledger, taxes
from gamehub.db import transaction
from gamehub.runtime import Runtime

_CACHE_KEY = "games.house_account_ids"


def house_code(user_id: int) -> str:
    return ledger.house_shard(user_id)


async def house_account(rt: Runtime, user_id: int) -> int:
    """The id of the house sub-account for this player's game money.

    Account ids never change once opened, so each process remembers them and the hot path skips
    the lookup. The account is opened in a transaction of its own, so that the id remembered is
    never one that a rolled-back spin had opened.
    """
    return await _remembered_account(rt, house_code(user_id), "house")


async def withholding_account(rt: Runtime, user_id: int) -> int:
    """The id of the tax liability sub-account that this player's spins' withholding goes to
    (opened, and remembered, as the house's)."""
    return await _remembered_account(rt, taxes.withholding_account("spin", user_id), "tax")


async def _remembered_account(rt: Runtime, code: str, kind: str) -> int:
    ids = rt.extras.setdefault(_CACHE_KEY, {})
    assert isinstance(ids, dict)
    found = ids.get(code)
    if found is None:
        async with transaction(rt.sessions) as session:
            found = await ledger.account_id(session, code, kind)
        ids[code] = found
    return int(found)
