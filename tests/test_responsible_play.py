"""Cool-off and self-exclusion (gamehub/responsible): no deposits, spins, joins or bets until the
pause ends; it ends every login, and it is lengthened, never shortened."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from quart import Quart
from quart.testing.connections import WebsocketDisconnectError
from sqlalchemy import update

from gamehub.db import transaction
from gamehub.models import User
from gamehub.runtime import EXTENSION, Runtime
from tests.funding import fund
from tests.helpers import PASSWORD, bearer, error_of, register


async def _login(client: Any, username: str) -> str:
    response = await client.post("/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, await response.get_data(as_text=True)
    token: str = (await response.get_json())["access_token"]
    return token


async def _pause(client: Any, token: str, kind: str, days: int | None) -> Any:
    return await client.post(
        "/responsible-play/pause", json={"kind": kind, "days": days}, headers=bearer(token)
    )


async def _refusals(client: Any, token: str) -> dict[str, tuple[int, str]]:
    """What each kind of play answers with `token`: (status, error code or '')."""
    attempts = {
        "spin": ("/games/spin-and-win/play", {"bet_amount": "10.00"}),
        "join": ("/games/join", {"stake": "10.00"}),
        "bet": ("/games/place-bet", {"room_id": 1, "bet_amount": "1.00", "bet_type": "survival"}),
        "deposit": ("/deposit", {"amount": "100.00", "phone": "254712345678"}),
    }
    answers = {}
    for name, (path, body) in attempts.items():
        response = await client.post(path, json=body, headers=bearer(token))
        code = (await error_of(response))["code"] if response.status_code >= 400 else ""
        answers[name] = (response.status_code, code)
    return answers


async def test_a_cool_off_stops_play_and_ends_every_login(app: Quart) -> None:
    runtime: Runtime = app.extensions[EXTENSION]
    client = app.test_client()
    player = await register(client)
    name = player["user"]["username"]
    await fund(runtime, player["user"]["id"], 100_000)
    other_device = await _login(client, name)
    socket = client.websocket("/ws", headers=bearer(other_device))
    async with socket as ws:
        # The socket is open (its login checked) before the pause: it answers a command.
        await ws.send(json.dumps({"op": "unsubscribe", "room_id": 1, "ref": "u"}))
        assert json.loads(await ws.receive())["ok"] is True
        paused = await _pause(client, player["access_token"], "cool_off", 2)
        assert paused.status_code == 200, await paused.get_data(as_text=True)
        body = await paused.get_json()
        assert body["paused"] is True and body["pause_kind"] == "cool_off"
        assert body["logged_out"] is True and body["permanent"] is False
        until = datetime.fromisoformat(body["paused_until"].replace("Z", "+00:00"))
        assert timedelta(days=2) - timedelta(minutes=1) < until - datetime.now(UTC)
        assert until - datetime.now(UTC) <= timedelta(days=2, seconds=1)  # whole seconds, up
        # A socket opened before the pause is closed: its login ended with the pause. A
        # command sent meanwhile is refused in its own statement, or never read.
        await ws.send(json.dumps({"op": "join", "stake": "10.00", "ref": "j"}))
        async with asyncio.timeout(5):
            while True:
                message = json.loads(await ws.receive())
                assert message.get("ok") is not True, message
                if message["op"] == "error":
                    break
        assert message["error"]["code"] == "session_revoked"
        with pytest.raises(WebsocketDisconnectError):
            await ws.receive()

    for token in (player["access_token"], other_device):
        gone = await client.get("/profile", headers=bearer(token))
        assert gone.status_code == 401 and (await error_of(gone))["code"] == "session_revoked"

    token = await _login(client, name)  # to see the balance or withdraw
    refused = await _refusals(client, token)
    assert refused == {kind: (403, "play_paused") for kind in refused}
    spin = await client.post(
        "/games/spin-and-win/play", json={"bet_amount": "10.00"}, headers=bearer(token)
    )
    assert (await error_of(spin))["details"] == {"paused_until": body["paused_until"]}
    async with client.websocket("/ws", headers=bearer(token)) as ws:
        await ws.send(json.dumps({"op": "join", "stake": "10.00", "ref": "j"}))
        reply = json.loads(await ws.receive())
        assert reply["ok"] is False and reply["error"]["code"] == "play_paused"
    wallet = await client.get("/wallet", headers=bearer(token))
    assert wallet.status_code == 200 and (await wallet.get_json())["balance"] == "1000.00"
    shown = await (await client.get("/responsible-play", headers=bearer(token))).get_json()
    assert shown["paused"] is True and shown["paused_until"] == body["paused_until"]


async def test_a_pause_is_lengthened_never_shortened(app: Quart) -> None:
    client = app.test_client()
    player = await register(client)
    name = player["user"]["username"]
    assert (await _pause(client, player["access_token"], "cool_off", 10)).status_code == 200
    token = await _login(client, name)
    shorter = await _pause(client, token, "cool_off", 5)
    assert shorter.status_code == 409
    assert (await error_of(shorter))["code"] == "pause_cannot_shorten"
    still = await client.get("/profile", headers=bearer(token))
    assert still.status_code == 200  # a refused pause ends no login
    forever = await _pause(client, token, "self_exclusion", None)
    assert forever.status_code == 200
    body = await forever.get_json()
    assert body["pause_kind"] == "self_exclusion" and body["permanent"] is True
    token = await _login(client, name)
    assert (await _pause(client, token, "self_exclusion", 400)).status_code == 409


async def test_pause_lengths_are_those_of_the_rules(app: Quart) -> None:
    client = app.test_client()
    token = (await register(client))["access_token"]
    for kind, days in (
        ("cool_off", 0),
        ("cool_off", 43),
        ("cool_off", None),
        ("self_exclusion", 182),
        ("self_exclusion", 5 * 365 + 1),
        ("forever", 30),
    ):
        response = await _pause(client, token, kind, days)
        assert response.status_code == 422, (kind, days)
        assert (await error_of(response))["code"] == "validation_error"
    unpaused = await (await client.get("/responsible-play", headers=bearer(token))).get_json()
    assert unpaused == {
        "paused": False,
        "pause_kind": None,
        "paused_until": None,
        "permanent": False,
        "logged_out": False,
        "deposit_limits": {
            period: {"limit": None, "next_limit": None, "next_from": None}
            for period in ("day", "week", "month")
        },
    }


async def test_play_resumes_once_the_pause_has_ended(app: Quart) -> None:
    runtime: Runtime = app.extensions[EXTENSION]
    client = app.test_client()
    player = await register(client)
    await fund(runtime, player["user"]["id"], 100_000)
    assert (await _pause(client, player["access_token"], "cool_off", 1)).status_code == 200
    async with transaction(runtime.sessions) as session:
        await session.execute(
            update(User)
            .where(User.id == player["user"]["id"])
            .values(paused_until=datetime.now(UTC) - timedelta(seconds=5))
        )
    token = await _login(client, player["user"]["username"])
    spin = await client.post(
        "/games/spin-and-win/play", json={"bet_amount": "10.00"}, headers=bearer(token)
    )
    assert spin.status_code == 200, await spin.get_data(as_text=True)
    joined = await client.post("/games/join", json={"stake": "10.00"}, headers=bearer(token))
    assert joined.status_code == 200, await joined.get_data(as_text=True)
