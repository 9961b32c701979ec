"""Stopping the app's background loops."""

from __future__ import annotations

import asyncio
from typing import Any


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
