"""The WebSocket's room subscriptions: each opens in a task of its own, so the socket's other
commands are answered meanwhile; an id ahead of the room gets a snapshot; a bad id gets 422."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from quart import Quart

from gamehub.runtime import EXTENSION
from tests.funding import books_balance, funded_players
from tests.helpers import bearer


async def _messages(ws: Any, until: Any, timeout: float = 5) -> list[dict[str, Any]]:
    """Messages as they come, until `until(messages)` holds; fails instead of waiting for ever."""
    messages: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while not until(messages):
            messages.append(json.loads(await ws.receive()))
    return messages


def _replies(messages: list[dict[str, Any]]) -> dict[Any, dict[str, Any]]:
    return {m["ref"]: m for m in messages if m["op"] == "reply"}


async def test_a_subscription_never_holds_up_the_sockets_other_commands(app: Quart) -> None:
    alice, bob = await funded_players(app, 2)
    client = app.test_client()
    async with client.websocket("/ws", headers=bearer(alice["access_token"])) as ws:
        await ws.send(json.dumps({"op": "join", "stake": 15, "ref": "j1"}))
        room = json.loads(await ws.receive())["result"]["room"]
        room_id, seq = room["id"], room["seq"]

        # Nothing missed: the subscription has nothing to send until the room's next event.
        # The command sent after it is answered all the same (it used to wait for that event).
        await ws.send(
            json.dumps({"op": "subscribe", "room_id": room_id, "last_event_id": seq, "ref": "s1"})
        )
        await ws.send(json.dumps({"op": "pull-trigger", "room_id": "x", "ref": "bad"}))
        replies = _replies(await _messages(ws, lambda m: len(_replies(m)) == 2))
        assert replies["s1"]["ok"] is True
        assert replies["bad"]["error"]["code"] == "validation_error"

        # Ids that are not seqs: 422, and the socket goes on answering.
        for n, since in enumerate(["5", True, -1, 10**18, 1.5, "\u00b2"]):
            await ws.send(
                json.dumps(
                    {"op": "subscribe", "room_id": room_id, "last_event_id": since, "ref": n}
                )
            )
            refused = _replies(await _messages(ws, lambda m: bool(_replies(m))))[n]
            assert refused["ok"] is False and refused["error"]["code"] == "validation_error"

        # Ahead of the room (the id of another deployment, or made up): the reply, a snapshot,
        # then every later event, once (this subscription replaced the first one).
        await ws.send(
            json.dumps({"op": "subscribe", "room_id": room_id, "last_event_id": 500, "ref": "s2"})
        )
        await ws.send(json.dumps({"op": "pull-trigger", "room_id": "y", "ref": "bad2"}))
        opened = await _messages(ws, lambda m: len(m) == 3)
        assert _replies(opened)["bad2"]["ok"] is False
        ours = [m for m in opened if m.get("ref") != "bad2"]
        assert [(m["op"], m.get("ref"), m.get("event"), m.get("id")) for m in ours] == [
            ("reply", "s2", None, None),
            ("event", None, "snapshot", seq),
        ]
        joined = await client.post(
            "/games/join", json={"stake": 15}, headers=bearer(bob["access_token"])
        )
        assert joined.status_code == 200
        events = await _messages(ws, lambda m: len(m) == 3)
        assert [(e["event"], e["id"]) for e in events] == [
            ("player_joined", seq + 1),
            ("match_started", seq + 2),
            ("turn", seq + 3),
        ]
        await ws.send(json.dumps({"op": "leave", "room_id": room_id, "ref": "l1"}))
        left = await _messages(ws, lambda m: "l1" in _replies(m))
        assert _replies(left)["l1"]["ok"] is True
    assert await books_balance(app.extensions[EXTENSION]) == []


async def test_a_subscription_to_a_missing_room_is_refused_in_its_reply(app: Quart) -> None:
    (alice,) = await funded_players(app, 1)
    client = app.test_client()
    async with client.websocket("/ws", headers=bearer(alice["access_token"])) as ws:
        for ref, since in (("none", None), ("zero", 0), ("ahead", 500)):
            await ws.send(
                json.dumps(
                    {"op": "subscribe", "room_id": 987654, "last_event_id": since, "ref": ref}
                )
            )
            reply = _replies(await _messages(ws, lambda m: bool(_replies(m))))[ref]
            assert reply["ok"] is False and reply["error"]["code"] == "room_not_found"
