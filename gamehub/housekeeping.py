"""Periodic clean-up that keeps tables bounded: Idempotency-Key records past their retention."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gamehub import idempotency
from gamehub.tasks import Periodic

log = logging.getLogger(__name__)

INTERVAL_S = 3600.0


class Housekeeping(Periodic):
    """Runs every `interval_s` on each instance; the work is idempotent, so instances may race."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], interval_s: float = INTERVAL_S
    ) -> None:
        super().__init__("housekeeping", interval_s, self.run_once)
        self.sessions = sessions

    async def run_once(self) -> int:
        removed = await idempotency.purge_expired(self.sessions)
        if removed:
            log.info("housekeeping: forgot %d expired idempotency keys", removed)
        return removed
