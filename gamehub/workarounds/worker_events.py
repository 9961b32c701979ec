"""Hypercorn's worker events with waiters kept in a set, so a waiter leaves in constant time.

Every idle keep-alive connection waits on one worker-wide event, and asyncio.Event removes a
leaving waiter by linear search, so each request paid O(idle connections). This replaces
`WorkerContext.event_class` (undocumented) with `SetEvent`, the same contract."""

from __future__ import annotations

import asyncio


class SetEvent:
    """An asyncio event for Hypercorn (`clear`, `set`, `wait` awaitable; `is_set` plain)."""

    __slots__ = ("_flag", "_waiters")

    def __init__(self) -> None:
        self._flag = False
        self._waiters: set[asyncio.Future[None]] = set()

    async def clear(self) -> None:
        self._flag = False

    async def set(self) -> None:
        self._flag = True
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)

    def is_set(self) -> bool:
        return self._flag

    async def wait(self) -> None:
        if self._flag:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            await waiter
        finally:
            self._waiters.discard(waiter)  # constant time, cancelled or woken


def install() -> None:
    """Make Hypercorn's asyncio workers use SetEvent; call before serving starts."""
    from hypercorn.asyncio.worker_context import WorkerContext

    WorkerContext.event_class = SetEvent
