"""Departure over the receive() Hypercorn gives an app (an asyncio.Queue's get): a disconnect
cancels the writer and says so, a body part does not, and stopping leaves no getter behind."""

from __future__ import annotations

import asyncio

from hypercorn.typing import ASGIReceiveEvent

from gamehub.workarounds.receive_watch import Departure


async def test_a_disconnect_cancels_the_writer_and_a_body_part_does_not() -> None:
    messages: asyncio.Queue[ASGIReceiveEvent] = asyncio.Queue()
    writer = asyncio.create_task(asyncio.sleep(60))
    departure = Departure(messages.get, writer)
    await messages.put({"type": "http.request", "body": b"", "more_body": False})
    await asyncio.sleep(0.01)
    assert not departure.gone and not writer.cancelled()
    await messages.put({"type": "http.disconnect"})
    await asyncio.sleep(0.01)
    assert departure.gone and writer.cancelled()
    departure.stop()


async def test_stopping_lets_go_of_the_servers_getter() -> None:
    messages: asyncio.Queue[ASGIReceiveEvent] = asyncio.Queue()
    writer = asyncio.create_task(asyncio.sleep(60))
    departure = Departure(messages.get, writer)
    await asyncio.sleep(0.01)
    assert len(messages._getters) == 1  # type: ignore[attr-defined]
    departure.stop()
    await asyncio.sleep(0.01)
    await messages.put({"type": "http.disconnect"})
    await asyncio.sleep(0.01)
    assert not departure.gone and not writer.done()
    assert messages.qsize() == 1  # no one took it
    writer.cancel()
