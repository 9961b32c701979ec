"""The app's background loops: stopping them, and the loop that runs a job every so often."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)


async def stop_task(task: asyncio.Task[Any] | None) -> None:
    """Cancel `task` and wait until it has ended.

    A background loop logs and survives a failed pass (`except Exception`). Some client
    libraries, cancelled in the middle of a call, raise an error of their own instead of the
    cancellation, and such a loop would then go on and be awaited forever. So the cancellation
    is repeated until the task has ended: a loop spends nearly all its time in its own wait
    between passes, where a cancellation is not turned into anything else.
    """
    if task is None:
        return
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.5)
    if not task.cancelled():
        error = task.exception()
        if error is not None:
            raise error  # a loop that died of a real error


class Periodic:
    """Runs `work` every `interval_s` on each instance until stopped; a failed pass is logged
    and the next one comes as usual (the jobs given here are safe to run again)."""

    def __init__(self, name: str, interval_s: float, work: Callable[[], Awaitable[object]]) -> None:
        self.name = name
        self.interval_s = interval_s
        self._work = work
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        await stop_task(task)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self._work()
            except Exception:
                log.exception("%s pass failed", self.name)
