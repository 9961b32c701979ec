"""A real Hypercorn server on a loopback port for tests that need real HTTP (SSE, callbacks)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def live_server(app: Quart) -> AsyncIterator[str]:
    """Serve `app` (already started by the fixture) over HTTP on a free port."""
    async with serve_at(app, free_port()) as base:
        yield base


@contextlib.asynccontextmanager
async def serve_at(app: Quart, port: int) -> AsyncIterator[str]:
    """Serve the (already started) app on 127.0.0.1:`port` over HTTP until the block ends."""
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.graceful_timeout = 1
    stop = asyncio.Event()

    async def without_lifespan(scope: Any, receive: Any, send: Any) -> None:
        # The app fixture already ran startup and will run shutdown; acknowledge, don't repeat.
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    task = asyncio.create_task(
        serve(without_lifespan, config, shutdown_trigger=stop.wait, mode="asgi")
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            break
        except OSError:
            await asyncio.sleep(0.05)
    try:
        yield base
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, 5)
