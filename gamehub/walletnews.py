"""Wallet events after room commands, off the room's path: a command notes whose wallets it
changed, and one task reads all noted balances in one statement and publishes them."""

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
