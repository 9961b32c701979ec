"""The app's background loops: stopping them, and the loop that runs a job every so often."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)


async def stop_task(task: asyncio.Task[Any] | None) -> None:
    """Cancel `task` and wait until it has ended, cancelling again as needed: a client library
    cancelled mid-call may raise its own error instead, which a loop's `except Exception` would
    survive; its own wait between passes is where a repeated cancellation lands."""
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
    """Runs `work` (safe to run again) every `interval_s` on each instance until stopped; a
    failed pass is logged."""

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
