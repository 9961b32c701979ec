"""A rolling restart's drain: SIGTERM to `gamehub serve` ends its open SSE streams (room, user,
lobby) and closes its WebSockets with 1012 (Service Restart) within moments, refuses new ones
with 503 and Retry-After meanwhile, lets the commands it answered stand, and exits 0, instead of
waiting for Hypercorn's graceful timeout to cut them."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

import aiohttp
import httpx
import pytest
from quart import Quart

from gamehub import serving
from gamehub.settings import Settings
from tests.backends import Backend
from tests.conftest import TEST_JWT_SECRET
from tests.funding import funded_players
from tests.helpers import bearer
from tests.live import App, free_port, live_server
from tests.sse import Reader

PROJECT = Path(__file__).resolve().parent.parent
ENDED_WITHIN_S = 3.0
EXITED_WITHIN_S = 6.0
SERVICE_RESTART = 1012


def _serve_env(settings: Settings, backend: Backend, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAMEHUB_")}
    env.update(
        GAMEHUB_DATABASE_URL=settings.database_url,
        GAMEHUB_DATA_DIR=str(tmp_path / "data"),
        GAMEHUB_JWT_SECRET=TEST_JWT_SECRET,
        GAMEHUB_BCRYPT_ROUNDS="4",
    )
    if backend.redis_url is not None:
        env["GAMEHUB_REDIS_URL"] = backend.redis_url
    return env


async def _subscribed_socket(
    session: aiohttp.ClientSession, base: str, token: str, room_id: int
) -> aiohttp.ClientWebSocketResponse:
    ws = await session.ws_connect(f"{base}/ws", headers=bearer(token))
    await ws.send_str(json.dumps({"op": "subscribe", "room_id": room_id, "ref": "sub"}))
    async with asyncio.timeout(10):
        while True:
            message = json.loads(await ws.receive_str())
            if message.get("ref") == "sub":
                assert message["ok"], message
                return ws


async def _close_code(ws: aiohttp.ClientWebSocketResponse) -> int | None:
    """Read until the server closes the socket; its close code."""
    while True:
        message = await ws.receive()
        if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            return ws.close_code
        assert message.type is not aiohttp.WSMsgType.ERROR, message


def _procfile_web(env: dict[str, str], tmp_path: Path) -> App:
    """The Procfile's web process as a platform runs it: its command line through bash, in a
    process group of its own, from a folder with the project's hypercorn.toml, on $PORT; bound
    to the loopback address rather than every interface (the one change made to it)."""
    lines = (PROJECT / "Procfile").read_text(encoding="utf-8").splitlines()
    (web,) = [line.removeprefix("web:").strip() for line in lines if line.startswith("web:")]
    assert "0.0.0.0" in web, web
    shutil.copy(PROJECT / "hypercorn.toml", tmp_path / "hypercorn.toml")
    port = free_port()
    env = {**env, "PORT": str(port), "PATH": f"{Path(sys.executable).parent}:{env['PATH']}"}
    command = ["bash", "-c", web.replace("0.0.0.0", "127.0.0.1")]
    return App(env, tmp_path, port, command, own_group=True)


@pytest.mark.parametrize("started", ["gamehub serve", "Procfile"])
async def test_sigterm_drains_streams_and_sockets_and_exits(
    app: Quart, settings: Settings, backend: Backend, tmp_path: Path, started: str
) -> None:
    """`gamehub serve`, and the Procfile's web process (every process of its group signalled,
    as platforms stop one)."""
    (player,) = await funded_players(app, 1)
    token = player["access_token"]
    env = _serve_env(settings, backend, tmp_path)
    if started == "Procfile":
        served = _procfile_web(env, tmp_path)
    else:
        served = App(env, tmp_path, free_port())
    await served.start()
    try:
        async with (
            httpx.AsyncClient(base_url=served.base, timeout=10) as http,
            aiohttp.ClientSession() as session,
        ):
            joined = await http.post("/games/join", json={"stake": 100}, headers=bearer(token))
            assert joined.status_code == 200, joined.text
            room_id = joined.json()["room"]["id"]
            ticket = (await http.post("/auth/stream-ticket", headers=bearer(token))).json()
            readers = [
                Reader(http, f"/games/rooms/{room_id}/events", bearer(token)),
                Reader(http, "/events", bearer(token)),
                Reader(http, f"/games/lobby/events?ticket={ticket['ticket']}"),
            ]
            for reader in readers:
                await reader.count(1, timeout=10)
            ws = await _subscribed_socket(session, served.base, token, room_id)

            # A command answered just before the signal.
            left = await http.post("/games/leave", json={"room_id": room_id}, headers=bearer(token))
            assert left.status_code == 200, left.text

            assert served.process is not None
            signalled = time.monotonic()
            served.signal(signal.SIGTERM)
            async with asyncio.timeout(ENDED_WITHIN_S):
                code = await _close_code(ws)
                await asyncio.gather(*(reader.task for reader in readers))
            assert code == SERVICE_RESTART
            ended = time.monotonic() - signalled
            returncode = await asyncio.to_thread(served.process.wait, EXITED_WITHIN_S)
            exited = time.monotonic() - signalled
        assert returncode == 0, served.output()
        assert ended < ENDED_WITHIN_S and exited < EXITED_WITHIN_S, (ended, exited)
    finally:
        served.stop()
    # What it answered stands: the player's seat was given up in the database.
    response = await app.test_client().get(f"/games/rooms/{room_id}", headers=bearer(token))
    assert response.status_code == 200
    room = (await response.get_json())["room"]
    assert player["user"]["id"] not in [seat["user_id"] for seat in room["players"]]


async def test_a_draining_instance_refuses_new_streams_and_sockets(app: Quart) -> None:
    (player,) = await funded_players(app, 1)
    token = player["access_token"]
    async with (
        live_server(app) as base,
        httpx.AsyncClient(base_url=base, timeout=10) as http,
        aiohttp.ClientSession() as session,
    ):
        reader = Reader(http, "/events", bearer(token))
        await reader.count(1, timeout=10)
        ws = await session.ws_connect(f"{base}/ws", headers=bearer(token))
        await ws.send_str(json.dumps({"op": "unsubscribe", "room_id": 1, "ref": "here"}))
        assert json.loads(await ws.receive_str())["ref"] == "here"
        serving.drain(app)
        async with asyncio.timeout(ENDED_WITHIN_S):
            assert await _close_code(ws) == SERVICE_RESTART
            await reader.task
        refused = await http.get("/events", headers=bearer(token))
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "2"
        assert refused.json()["error"]["code"] == "restarting"
        with pytest.raises(aiohttp.WSServerHandshakeError) as handshake:
            await session.ws_connect(f"{base}/ws", headers=bearer(token))
        assert handshake.value.status == 503
        # Plain requests are still answered while the instance drains.
        assert (await http.get("/healthz")).status_code == 200
