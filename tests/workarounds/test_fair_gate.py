"""Borrowers of the raw database pool are served in the order they asked (gamehub/fair_gate.py)."""

from __future__ import annotations

import asyncio

import pytest
from quart import Quart

from gamehub.runtime import EXTENSION, Runtime
from gamehub.workarounds.fair_gate import FairGate, GateTimeout


async def _borrow(gate: FairGate, order: list[str], name: str) -> None:
    await gate.enter(5)
    order.append(name)
    gate.leave()


async def _line_up(gate: FairGate, order: list[str], names: str) -> list[asyncio.Task[None]]:
    tasks = []
    for name in names:
        tasks.append(asyncio.create_task(_borrow(gate, order, name)))
        await asyncio.sleep(0)  # each is in line before the next arrives
    return tasks


async def test_a_newcomer_does_not_take_a_slot_that_was_handed_to_a_waiter() -> None:
    gate = FairGate(1)
    await gate.enter(1)  # the slot is held
    order: list[str] = []
    waiting = await _line_up(gate, order, "abc")
    assert gate.waiting == 3
    # A newcomer whose first step is already due when the slot comes back (in a server: a
    # request read in the same pass of the loop) runs before the waiter that was woken.
    late = asyncio.create_task(_borrow(gate, order, "n"))
    gate.leave()  # handed to a
    await asyncio.wait_for(asyncio.gather(*waiting, late), 1)
    assert order == ["a", "b", "c", "n"]


async def test_an_asyncio_queue_lets_the_newcomer_in_first() -> None:
    """Why the gate exists: the same arrival order through an asyncio.Queue of one item, as
    asyncpg's pool hands out its connections."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    order: list[str] = []

    async def borrower(name: str) -> None:
        item = await queue.get()
        order.append(name)
        queue.put_nowait(item)

    waiting = []
    for name in "abc":
        waiting.append(asyncio.create_task(borrower(name)))
        await asyncio.sleep(0)
    waiting.append(asyncio.create_task(borrower("n")))
    queue.put_nowait("connection")  # wakes a, but n takes the connection first
    await asyncio.wait_for(asyncio.gather(*waiting), 1)
    assert order[0] == "n"


async def test_a_wait_that_times_out_leaves_the_line_and_loses_no_slot() -> None:
    gate = FairGate(1)
    await gate.enter(1)
    with pytest.raises(GateTimeout):
        await gate.enter(0.05)
    assert gate.waiting == 0
    gate.leave()
    await asyncio.wait_for(gate.enter(1), 1)  # the one slot is still there
    with pytest.raises(GateTimeout):
        await gate.enter(0.01)


async def test_a_cancelled_waiter_is_skipped_and_a_slot_handed_to_one_is_passed_on() -> None:
    gate = FairGate(1)
    await gate.enter(1)
    order: list[str] = []
    first, second, third = await _line_up(gate, order, "abc")
    first.cancel()
    await asyncio.sleep(0)
    gate.leave()  # skips a, hands the slot to b
    second.cancel()  # b is cancelled before it ran: the slot goes on to c
    await asyncio.wait_for(third, 1)  # c leaves the gate as it goes
    assert order == ["c"]
    assert first.cancelled() and second.cancelled()
    await asyncio.wait_for(gate.enter(1), 1)
    assert gate.waiting == 0


async def test_the_raw_pool_serves_its_borrowers_in_turn(app: Quart) -> None:
    """With four times as many borrowers as connections, each borrowing again as soon as it
    gave its connection back (as a loaded server's requests do): a borrower goes to the back of
    the line every time, so between two of its turns most of the others have theirs. Through
    asyncpg's queue alone, the one that just gave a connection back often takes one again ahead
    of those waiting."""
    runtime: Runtime = app.extensions[EXTENSION]
    pool = runtime.pg
    size = runtime.settings.db_raw_pool_size
    borrowers, turns = 4 * size, 30 * size
    held = asyncio.Semaphore(0)
    opened = asyncio.Event()

    async def open_connection() -> None:
        async with pool.connection() as connection:
            await connection.fetchval("SELECT 1")
            held.release()
            await opened.wait()

    warm_up = [asyncio.create_task(open_connection()) for _ in range(size)]
    for _ in range(size):
        await asyncio.wait_for(held.acquire(), 10)  # every connection is open
    opened.set()
    await asyncio.gather(*warm_up)

    entered: list[int] = []

    async def borrower(number: int) -> None:
        while len(entered) < turns:
            async with pool.connection() as connection:
                entered.append(number)
                await connection.fetchval("SELECT 1")

    await asyncio.wait_for(asyncio.gather(*(borrower(n) for n in range(borrowers))), 60)
    last: dict[int, int] = {}
    gaps = []
    for position, number in enumerate(entered[:turns]):  # before anyone stopped asking
        if number in last:
            gaps.append(position - last[number])
        last[number] = position
    assert min(gaps) >= borrowers - size - size // 2, sorted(gaps)[:10]
