"""Periodic clean-up that keeps tables bounded: Idempotency-Key records past their retention."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gamehub import idempotency
from gamehub.tasks import stop_task

log = logging.getLogger(__name__)

INTERVAL_S = 3600.0


class Housekeeping:
    """Runs every `interval_s` on each instance; the work is idempotent, so instances may race."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], interval_s: float = INTERVAL_S
    ) -> None:
        self.sessions = sessions
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="housekeeping")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await stop_task(task)

    async def run_once(self) -> int:
        removed = await idempotency.purge_expired(self.sessions)
        if removed:
            log.info("housekeeping: forgot %d expired idempotency keys", removed)
        return removed

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.run_once()
            except Exception:
                log.exception("housekeeping pass failed")
