"""Hypercorn's worker events with waiters kept in a set, so a waiter leaves in constant time.

Every keep-alive connection that sits idle between requests waits, through Hypercorn's idle
timer, on one event the whole worker shares (`WorkerContext.terminated`). asyncio.Event keeps
its waiters in a deque, and a waiter that stops waiting is removed with `deque.remove`: a
linear search. Each request on a kept-alive connection cancels that connection's idle wait
and starts a new one, so with N idle connections every request paid O(N): a cost that grows with
every connection (docs/BENCHMARKS.md, "What grows with the number of connections").

Hypercorn picks the class for its worker-wide events (and a connection's `can_read`) from
`WorkerContext.event_class`; this replaces it with `SetEvent`, the same contract.
"""

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
