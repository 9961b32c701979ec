"""A first-come, first-served gate in front of a scarce resource (the raw database pool).

asyncpg's pool queue lets a newcomer take a released connection before the woken waiter runs,
so under load a few borrowers waited many times longer (docs/BENCHMARKS.md, "Who waits")."""

from __future__ import annotations

import asyncio
from collections import deque


class GateTimeout(Exception):
    """No slot came free within the wait allowed."""


class FairGate:
    """At most `slots` holders at a time, admitted in the order they arrived."""

    def __init__(self, slots: int) -> None:
        self._free = slots
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        return sum(1 for waiter in self._waiters if not waiter.done())

    async def enter(self, patience: float) -> None:
        """Take a slot, waiting in line for up to `patience` seconds (GateTimeout)."""
        if self._free and not self._waiters:
            self._free -= 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(patience):
                await waiter
        except BaseException as error:
            if waiter.done() and not waiter.cancelled():
                # The slot was handed over just as the wait ended: pass it on, unused.
                self.leave()
            else:
                waiter.cancel()  # skipped when its turn comes
            if isinstance(error, TimeoutError):
                raise GateTimeout(f"no slot within {patience} s") from None
            raise

    def leave(self) -> None:
        """Give the slot back: to the longest waiter still waiting, else to the free count."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot moves to the waiter; the count is unchanged
                return
        self._free += 1
