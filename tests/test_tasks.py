"""stop_task ends a background loop even when a cancellation is turned into another error."""

from __future__ import annotations

import asyncio
import logging

import pytest

from gamehub.tasks import stop_task


async def test_a_loop_that_survives_one_cancellation_is_still_stopped() -> None:
    """A pass cancelled mid-call whose library raises its own error: the loop logs it and goes
    on to its own wait, where the repeated cancellation ends it."""
    in_call = asyncio.Event()
    passes = 0

    async def client_call() -> None:
        in_call.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise ConnectionError("connection closed while reading") from None

    async def loop() -> None:
        nonlocal passes
        while True:
            if passes:
                await asyncio.sleep(3600)  # the loop's own wait between passes
            passes += 1
            try:
                await client_call()
            except Exception:
                logging.getLogger(__name__).info("pass failed; the loop goes on")

    task = asyncio.create_task(loop())
    await in_call.wait()
    async with asyncio.timeout(5):
        await stop_task(task)
    assert task.cancelled() and passes == 1  # the first cancellation was swallowed


async def test_a_loop_that_died_of_an_error_reports_it() -> None:
    async def broken() -> None:
        raise ValueError("bug")

    task = asyncio.create_task(broken())
    await asyncio.sleep(0)
    with pytest.raises(ValueError, match="bug"):
        await stop_task(task)
    await stop_task(None)
