"""A login that ends (logout, a reused refresh token, a responsible-play pause, an operator's
suspension) closes its SSE streams and WebSockets within 5 s, on this instance and on others;
one user's open streams and sockets are capped; other logins' streams stay open."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from quart import Quart
from quart.testing.connections import WebsocketDisconnectError, WebsocketResponseError
from quart.typing import TestClientProtocol

from gamehub.app import create_app
from gamehub.connections import Connections
from gamehub.runtime import EXTENSION
from gamehub.settings import Settings
from tests.admin.operators import operator
from tests.backends import Backend
from tests.helpers import PASSWORD, bearer, register
from tests.live import live_server
from tests.sse import Reader

CLOSED_WITHIN_S = 5.0


async def _login(http: httpx.AsyncClient, username: str) -> str:
    response = await http.post("/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def _ticket(http: httpx.AsyncClient, token: str) -> str:
    response = await http.post("/auth/stream-ticket", headers=bearer(token))
    assert response.status_code == 200, response.text
    ticket: str = response.json()["ticket"]
    return ticket


async def _streams(http: httpx.AsyncClient, token: str) -> list[Reader]:
    """The user stream (bearer) and the lobby (ticket), each showing its first event."""
    readers = [
        Reader(http, "/events", bearer(token)),
        Reader(http, f"/games/lobby/events?ticket={await _ticket(http, token)}"),
    ]
    for reader in readers:
        await reader.count(1, timeout=10)
    return readers


async def _ended(readers: list[Reader]) -> None:
    async with asyncio.timeout(CLOSED_WITHIN_S):
        await asyncio.gather(*(reader.task for reader in readers))


async def _socket_ends(ws: Any) -> None:
    """The socket says its session ended, then closes (4401), within the time allowed."""
    async with asyncio.timeout(CLOSED_WITHIN_S):
        message = json.loads(await ws.receive())
        assert message == {"op": "error", "error": message["error"]}
        assert message["error"]["code"] == "session_revoked"
        with pytest.raises(WebsocketDisconnectError):
            await ws.receive()


async def _socket_answers(ws: Any) -> None:
    await ws.send(json.dumps({"op": "unsubscribe", "room_id": 1, "ref": "still-there"}))
    assert json.loads(await ws.receive())["ref"] == "still-there"


@pytest.mark.parametrize("how", ["logout", "pause", "suspension"])
async def test_an_ended_login_closes_its_streams_and_sockets(app: Quart, how: str) -> None:
    client = app.test_client()
    async with live_server(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as http:
        leaver = await register(client, "leaver")
        staff = await operator(client, app.extensions[EXTENSION])
        ending, other = await _login(http, "leaver"), await _login(http, "leaver")
        doomed = await _streams(http, ending)
        kept = await _streams(http, other)
        async with (
            client.websocket("/ws", headers=bearer(ending)) as doomed_ws,
            client.websocket("/ws", headers=bearer(other)) as kept_ws,
        ):
            await _socket_answers(doomed_ws)
            early_ticket = await _ticket(http, ending)
            if how == "logout":
                assert (await http.post("/auth/logout", headers=bearer(ending))).status_code == 204
            elif how == "suspension":
                suspended = await http.post(
                    f"/admin/users/{leaver['user']['id']}/suspend",
                    json={"reason": "a test of closing"},
                    headers=staff.headers,
                )
                assert suspended.status_code == 200, suspended.text
            else:
                paused = await http.post(
                    "/responsible-play/pause",
                    json={"kind": "cool_off", "days": 1},
                    headers=bearer(ending),
                )
                assert paused.status_code == 200, paused.text
            await _ended(doomed)
            await _socket_ends(doomed_ws)
            if how == "logout":
                # Another login of the same user goes on.
                assert not any(reader.task.done() for reader in kept)
                await _socket_answers(kept_ws)
            else:
                # A pause or a suspension ends every login of the player.
                await _ended(kept)
                await _socket_ends(kept_ws)
        await _stop(kept)
        # A ticket issued before the login ended does not open a stream after it.
        async with http.stream("GET", f"/games/lobby/events?ticket={early_ticket}") as late:
            assert late.status_code == 401
            assert json.loads(await late.aread())["error"]["code"] == "session_revoked"


async def test_a_reused_refresh_token_closes_the_logins_streams(app: Quart) -> None:
    async with live_server(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as http:
        data = await register(app.test_client(), "reuser")
        streams = await _streams(http, data["access_token"])
        spent = data["refresh_token"]
        assert (await http.post("/auth/refresh", json={"refresh_token": spent})).status_code == 200
        again = await http.post("/auth/refresh", json={"refresh_token": spent})
        assert again.json()["error"]["code"] == "refresh_token_reused"
        await _ended(streams)


async def test_a_login_ended_on_another_instance(
    app: Quart, settings: Settings, backend: Backend
) -> None:
    """Streams and a socket on instance B close when the login is ended through instance A."""
    if backend.redis_url is None:
        pytest.skip("two instances share a broker only on Redis (the services backend)")
    other = create_app(settings)
    async with (
        other.test_app(),
        live_server(app) as base_a,
        live_server(other) as base_b,
        httpx.AsyncClient(base_url=base_a, timeout=10) as http_a,
        httpx.AsyncClient(base_url=base_b, timeout=10) as http_b,
    ):
        await register(app.test_client(), "roamer")
        token = await _login(http_a, "roamer")
        on_b = await _streams(http_b, token)
        async with other.test_client().websocket("/ws", headers=bearer(token)) as ws_b:
            await _socket_answers(ws_b)
            assert (await http_a.post("/auth/logout", headers=bearer(token))).status_code == 204
            await _ended(on_b)
            await _socket_ends(ws_b)


async def test_one_users_streams_and_sockets_are_capped(
    app: Quart, client: TestClientProtocol
) -> None:
    connections: Connections = app.extensions[EXTENSION].connections
    connections.max_per_user = 3  # GAMEHUB_MAX_STREAMS_PER_USER
    async with live_server(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as http:
        alice, bob = await register(client), await register(client)
        readers = await _streams(http, alice["access_token"])  # 2 of 3
        async with client.websocket("/ws", headers=bearer(alice["access_token"])) as ws:
            await _socket_answers(ws)  # 3 of 3
            refused = await http.get("/events", headers=bearer(alice["access_token"]))
            assert refused.status_code == 429
            assert refused.json()["error"]["code"] == "too_many_streams"
            with pytest.raises(WebsocketResponseError) as socket_refused:
                async with client.websocket("/ws", headers=bearer(alice["access_token"])) as extra:
                    await extra.receive()
            assert socket_refused.value.response.status_code == 429
            # Another user is not affected.
            readers += await _streams(http, bob["access_token"])
        # A closed socket no longer counts, nor does a stream the client left.
        readers[0].task.cancel()
        user_id = alice["user"]["id"]
        async with asyncio.timeout(5):
            while connections.count(user_id) > 1:
                await asyncio.sleep(0.05)
        readers += await _streams(http, alice["access_token"])
        await _stop(readers)


async def _stop(readers: list[Reader]) -> None:
    for reader in readers:
        reader.task.cancel()
    await asyncio.gather(*(reader.task for reader in readers), return_exceptions=True)
