"""Real HTTP for the M-Pesa tests: Hypercorn on a loopback ephemeral port, a callback receiver."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart, request


@asynccontextmanager
async def serving(app: Quart) -> AsyncIterator[str]:
    """Serve `app` on 127.0.0.1 on a port the OS picks; yields its base URL."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = listener.getsockname()[1]
    config = Config()
    config.bind = [f"fd://{listener.detach()}"]  # Hypercorn owns and closes the socket
    config.accesslog = None
    config.errorlog = None
    config.graceful_timeout = 0.5
    stop = asyncio.Event()
    task = asyncio.create_task(serve(app, config, shutdown_trigger=stop.wait))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


class CallbackReceiver:
    """Records every POSTed JSON body by path, like a wallet's callback endpoints would get them."""

    def __init__(self) -> None:
        self.app = Quart("callback_receiver")
        self.received: list[tuple[str, float, Any]] = []
        self._arrival = asyncio.Condition()
        self.base_url = ""

        @self.app.post("/<path:path>")
        async def _record(path: str) -> dict[str, Any]:
            body = await request.get_json(force=True)
            async with self._arrival:
                self.received.append(("/" + path, time.monotonic(), body))
                self._arrival.notify_all()
            return {"ResultCode": 0, "ResultDesc": "Accepted"}

    def url(self, path: str) -> str:
        return self.base_url + path

    def bodies(self, path: str) -> list[Any]:
        return [body for got, _, body in self.received if got == path]

    def times(self, path: str) -> list[float]:
        return [at for got, at, _ in self.received if got == path]

    async def wait_for(self, path: str, count: int = 1, timeout: float = 5.0) -> list[Any]:
        async with self._arrival:
            await asyncio.wait_for(
                self._arrival.wait_for(lambda: len(self.bodies(path)) >= count), timeout
            )
        return self.bodies(path)
