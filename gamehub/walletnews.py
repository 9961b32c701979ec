"""Wallet events after room commands, off the room's path: a command notes whose wallets it
changed, and one task reads all noted balances in one statement and publishes them.

Whose wallet a command changed is one rule, `wallets_changed`: a player's balance is their
wallet plus their money held in room escrows (gamehub/balances.py), so it changed when a posting
moved their wallet or their share of the room's escrow. The second half is what a rule that
looked only at wallets missed: a match's loser and a losing side bettor have no posting of their
own (their money goes from the escrow to the winner or the house), yet their balance and held
both drop, and their wallet pages kept showing the stake as held.

A room's actor used to read each changed wallet itself before taking its next command (four
reads per match). A wallet event says "the wallet as it is now": reading it a moment later, for
several players at once, says the same thing, and two changes close together may be told by one
event (the later balance), which is what a client shows anyway.
"""

from __future__ import annotations

import asyncio
import logging

from gamehub.balances import player_balances_pg
from gamehub.pg import RawPool
from gamehub.rooms.broker import Broker
from gamehub.rooms.roulette import Transition
from gamehub.tasks import stop_task
from gamehub.userstream import publish_wallet_balance

log = logging.getLogger(__name__)


def wallets_changed(transition: Transition) -> set[int]:
    """The players whose balance or held amount a committed room command changed: the owner of
    every wallet its postings moved, and everyone whose money in the room's escrow it moved."""
    changed = {posting.user_id for posting in transition.postings if posting.user_id is not None}
    before, after = transition.before.escrow_shares(), transition.state.escrow_shares()
    changed.update(
        user for user in before.keys() | after.keys() if before.get(user) != after.get(user)
    )
    return changed


class WalletNews:
    def __init__(self, broker: Broker, pg: RawPool) -> None:
        self.broker = broker
        self.pg = pg
        self._noted: set[int] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def note(self, user_ids: set[int]) -> None:
        """These players' wallets changed in a committed command: tell their streams soon."""
        if not user_ids:
            return
        self._noted |= user_ids
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="wallet-news")

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            users, self._noted = sorted(self._noted), set()
            try:
                for user_id, balance in (await player_balances_pg(self.pg, users)).items():
                    await publish_wallet_balance(self.broker, user_id, balance)
            except Exception:
                log.exception("wallet events for %d players failed", len(users))

    async def stop(self) -> None:
        task, self._task = self._task, None
        await stop_task(task)
