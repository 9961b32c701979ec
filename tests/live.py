"""Real servers on loopback ports for tests that need real HTTP (SSE, callbacks): the test's
own app under Hypercorn, or `gamehub serve` as a process that can be killed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
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


class App:
    """`gamehub serve` as a subprocess that can be started, killed and started again; or
    another `command` that serves on `port` (in a process group of its own, as a Procfile
    runner starts one, when `own_group`)."""

    def __init__(
        self,
        env: dict[str, str],
        cwd: Path,
        port: int,
        command: list[str] | None = None,
        *,
        own_group: bool = False,
    ) -> None:
        self.env, self.cwd, self.port = env, cwd, port
        self.command = command or [
            sys.executable,
            "-m",
            "gamehub.cli",
            "serve",
            "--port",
            str(port),
        ]
        self.own_group = own_group
        self.base = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log: IO[bytes] | None = None

    async def start(self) -> None:
        if self.log is not None:  # started again after a kill or a drain
            self.log.close()
        self.log = (self.cwd / "serve.log").open("ab")
        self.process = subprocess.Popen(
            self.command,
            cwd=self.cwd,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=self.own_group,
        )
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(timeout=1) as http:
            while time.monotonic() < deadline:
                assert self.process.poll() is None, self.output()
                try:
                    if (await http.get(f"{self.base}/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        pytest.fail(f"gamehub serve did not start: {self.output()}")

    def signal(self, signum: int) -> None:
        """To the process, or to its whole group when it has one of its own (as a Procfile
        runner or a platform stopping a dyno does)."""
        assert self.process is not None
        if self.own_group:
            os.killpg(self.process.pid, signum)
        else:
            self.process.send_signal(signum)

    def kill(self) -> None:
        assert self.process is not None
        self.signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.process.wait(5)
        if self.log is not None:
            self.log.close()

    def output(self) -> str:
        return (self.cwd / "serve.log").read_text(errors="replace")[-3000:]


async def until(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)
