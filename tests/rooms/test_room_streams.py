"""Room and lobby streams over real HTTP (httpx-sse) and WebSocket: live play seen by everyone,
exact Last-Event-ID replay, snapshots (for ids that cannot be honoured, too), timeouts and a
restart in the middle of a match."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

import httpx
import pytest
from httpx_sse import ServerSentEvent
from quart import Quart
from quart.testing.connections import WebsocketDisconnectError

from gamehub import fairness
from gamehub.app import create_app
from gamehub.runtime import EXTENSION, Runtime
from gamehub.settings import Settings
from tests.funding import books_balance, funded_players
from tests.helpers import bearer
from tests.live import live_server
from tests.rooms.broker_helpers import lose_everything
from tests.sse import MALFORMED_IDS, Reader, with_last_event_id

# What a room's stream carries when its second player sits down.
TYPES_ON_SEATING = ("player_joined", "match_started", "turn")


async def _ticket(http: httpx.AsyncClient, token: str) -> str:
    response = await http.post("/auth/stream-ticket", headers=bearer(token))
    ticket: str = response.json()["ticket"]
    return ticket


def _types(events: list[ServerSentEvent]) -> list[str]:
    return [event.event for event in events]


def _ended(events: list[ServerSentEvent]) -> bool:
    return "match_ended" in _types(events)


async def test_match_seen_live_by_players_and_a_betting_spectator(app: Quart) -> None:
    alice, bob, carol = await funded_players(app, 3)
    async with live_server(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as http:
        opened = await http.post(
            "/games/join", json={"stake": 20}, headers=bearer(alice["access_token"])
        )
        room_id = opened.json()["room"]["id"]
        readers = {
            name: Reader(
                http,
                f"/games/rooms/{room_id}/events?ticket={await _ticket(http, who['access_token'])}",
            )
            for name, who in (("alice", alice), ("bob", bob), ("carol", carol))
        }
        for reader in readers.values():
            await reader.until(lambda events: len(events) >= 1)
            assert readers["alice"].events[0].event == "snapshot"
        joined = await http.post(
            "/games/join", json={"stake": 20}, headers=bearer(bob["access_token"])
        )
        room = joined.json()["room"]
        tokens = {
            alice["user"]["id"]: alice["access_token"],
            bob["user"]["id"]: bob["access_token"],
        }
        outcome = "click"
        bets_placed = 0
        while outcome == "click":
            if room["chambers_left"] >= 2:
                bet = await http.post(
                    "/games/place-bet",
                    json={"room_id": room_id, "bet_amount": 10, "bet_type": "survival"},
                    headers=bearer(carol["access_token"]),
                )
                assert bet.status_code == 200, bet.text
                bets_placed += 1
            pulled = await http.post(
                "/games/pull-trigger",
                json={"room_id": room_id},
                headers=bearer(tokens[room["turn_user_id"]]),
            )
            outcome, room = pulled.json()["outcome"], pulled.json()["room"]
        for reader in readers.values():
            await reader.until(_ended)
        seen = [[(e.id, e.event, e.data) for e in reader.events[1:]] for reader in readers.values()]
        assert seen[0] == seen[1] == seen[2]
        ids = [int(event_id or 0) for event_id, _, _ in seen[0]]
        assert ids == list(range(ids[0], ids[0] + len(ids)))  # gapless
        types = [event_type for _, event_type, _ in seen[0]]
        assert types[:3] == ["player_joined", "match_started", "turn"]
        # After a pull: trigger_pulled, bets_settled (if it had bets), then turn or match_ended.
        for index, event_type in enumerate(types):
            if event_type == "trigger_pulled":
                after = types[index + 1 : index + 3]
                if after[0] == "bets_settled":
                    assert after[1] in {"turn", "match_ended"}
                else:
                    assert after[0] in {"turn", "match_ended"}
        assert types.count("bets_settled") == types.count("bet_placed") == bets_placed
        ended = json.loads(seen[0][-1][2])
        assert (
            ended["type"] == "match_ended"
            and ended["room_id"] == room_id
            and ended["seq"] == ids[-1]
        )
        started = json.loads(next(data for _, t, data in seen[0] if t == "match_started"))
        draw = fairness.roulette_draw(ended["server_seed"], started["client_seed"], room_id)
        assert fairness.commitment(ended["server_seed"]) == started["server_seed_hash"]
        pulls = [json.loads(data) for _, t, data in seen[0] if t == "trigger_pulled"]
        assert pulls[-1]["outcome"] == "bang" and pulls[-1]["pull_number"] == draw.bullet + 1
        players = [p["user_id"] for p in room["players"]]
        assert started["first_shooter"] == players[draw.first_shooter_seat]
        for reader in readers.values():
            await reader.stop()

        # A subscriber that dropped after event k gets exactly k+1.. on reconnect.
        for k in (0, 2, 5):
            ticket = await _ticket(http, carol["access_token"])
            replay = Reader(
                http,
                f"/games/rooms/{room_id}/events?ticket={ticket}",
                headers={"Last-Event-ID": str(k)},
            )
            await replay.until(_ended)
            assert [int(e.id or 0) for e in replay.events] == list(range(k + 1, ids[-1] + 1))
            await replay.stop()
    assert await books_balance(app.extensions[EXTENSION]) == []


async def test_short_timeouts_auto_pull_and_refund(settings: Settings, backend: Any) -> None:
    from tests.backends import clean_services

    if backend.name == "services":
        await clean_services(settings.database_url, backend.redis_url)
    fast = replace(
        settings,
        roulette_turn_timeout_s=1,
        roulette_waiting_timeout_s=1,
        rooms_sweep_interval_s=0.5,
    )
    app = create_app(fast)
    async with app.test_app():
        alice, bob, carol = await funded_players(app, 3)
        client = app.test_client()
        lonely = await client.post(
            "/games/join", json={"stake": 10}, headers=bearer(carol["access_token"])
        )
        lonely_id = (await lonely.get_json())["room"]["id"]
        await client.post("/games/join", json={"stake": 30}, headers=bearer(alice["access_token"]))
        room = (
            await (
                await client.post(
                    "/games/join", json={"stake": 30}, headers=bearer(bob["access_token"])
                )
            ).get_json()
        )["room"]
        async with asyncio.timeout(20):
            while room["status"] != "finished":
                await asyncio.sleep(0.3)
                room = (
                    await (
                        await client.get(
                            f"/games/rooms/{room['id']}", headers=bearer(alice["access_token"])
                        )
                    ).get_json()
                )["room"]
        assert room["pull_number"] >= 1
        runtime: Runtime = app.extensions[EXTENSION]
        from gamehub.rooms import store

        history = await store.durable_history(runtime.sessions, room["id"], 0)
        assert history is not None
        pulls = [e.payload() for e in history if e.type == "trigger_pulled"]
        assert pulls and all(p["auto"] for p in pulls)
        lonely_room = (
            await (
                await client.get(f"/games/rooms/{lonely_id}", headers=bearer(carol["access_token"]))
            ).get_json()
        )["room"]
        assert lonely_room["status"] == "cancelled"
        profile = await (
            await client.get("/profile", headers=bearer(carol["access_token"]))
        ).get_json()
        assert profile["balance"] == "1000.00" and profile["held"] == "0.00"
        assert await books_balance(runtime) == []


async def test_restart_mid_match_resumes_the_match_and_its_timers(
    settings: Settings, backend: Any
) -> None:
    from tests.backends import clean_services

    if backend.name == "services":
        await clean_services(settings.database_url, backend.redis_url)
    # A room's terms (timeouts included) are fixed when it opens and stored with it.
    short = replace(settings, roulette_turn_timeout_s=2, rooms_sweep_interval_s=0.5)
    first = create_app(short)
    async with first.test_app():
        alice, bob = await funded_players(first, 2)
        client = first.test_client()
        await client.post("/games/join", json={"stake": 10}, headers=bearer(alice["access_token"]))
        room = (
            await (
                await client.post(
                    "/games/join", json={"stake": 10}, headers=bearer(bob["access_token"])
                )
            ).get_json()
        )["room"]
        seq_before = room["seq"]
    # The first instance is gone (its timers with it); a new one must pick the match up.
    second = create_app(short)
    async with second.test_app():
        client = second.test_client()
        view = (
            await (
                await client.get(
                    f"/games/rooms/{room['id']}", headers=bearer(alice["access_token"])
                )
            ).get_json()
        )["room"]
        assert view["status"] == "playing" and view["seq"] == seq_before
        tokens = {
            alice["user"]["id"]: alice["access_token"],
            bob["user"]["id"]: bob["access_token"],
        }
        pulled = await client.post(
            "/games/pull-trigger",
            json={"room_id": room["id"]},
            headers=bearer(tokens[view["turn_user_id"]]),
        )
        assert pulled.status_code == 200
        # Nobody pulls any more: the resumed turn timers auto-pull until someone is eliminated.
        async with asyncio.timeout(30):
            while view["status"] != "finished":
                await asyncio.sleep(0.3)
                view = (
                    await (
                        await client.get(
                            f"/games/rooms/{room['id']}", headers=bearer(alice["access_token"])
                        )
                    ).get_json()
                )["room"]
        assert await books_balance(second.extensions[EXTENSION]) == []


async def test_websocket_subscribe_and_commands(app: Quart) -> None:
    alice, bob = await funded_players(app, 2)
    client = app.test_client()
    async with client.websocket("/ws", headers=bearer(alice["access_token"])) as ws:
        await ws.send(json.dumps({"op": "join", "stake": 15, "ref": "j1"}))
        reply = json.loads(await ws.receive())
        assert reply["ref"] == "j1" and reply["ok"] is True
        room_id = reply["result"]["room"]["id"]
        await ws.send(json.dumps({"op": "subscribe", "room_id": room_id, "ref": "s1"}))
        messages = [json.loads(await ws.receive()) for _ in range(2)]
        # The reply first, then the snapshot: the first batch is read before replying.
        assert [m["op"] for m in messages] == ["reply", "event"]
        snapshot = messages[1]
        assert snapshot["event"] == "snapshot" and snapshot["data"]["room"]["id"] == room_id
        for since in (None, 0):
            await ws.send(
                json.dumps(
                    {"op": "subscribe", "room_id": 987654, "last_event_id": since, "ref": "s2"}
                )
            )
            missing = json.loads(await ws.receive())
            while missing["op"] == "event":  # only the subscribed room's events may come first
                assert missing["room_id"] == room_id, missing
                missing = json.loads(await ws.receive())
            assert missing["ok"] is False and missing["error"]["code"] == "room_not_found"
        await client.post("/games/join", json={"stake": 15}, headers=bearer(bob["access_token"]))
        events = [json.loads(await ws.receive()) for _ in range(3)]
        assert [e["event"] for e in events] == ["player_joined", "match_started", "turn"]
        await ws.send(json.dumps({"op": "pull-trigger", "room_id": "x", "ref": "bad"}))
        bad = json.loads(await ws.receive())
        assert bad["ok"] is False and bad["error"]["code"] == "validation_error"
        await ws.send(json.dumps({"op": "leave", "room_id": room_id, "ref": "l1"}))
        left = json.loads(await ws.receive())
        while left["op"] != "reply":
            left = json.loads(await ws.receive())
        assert left["ok"] is True and left["result"]["forfeited"] == "15.00"
    assert await books_balance(app.extensions[EXTENSION]) == []


@pytest.mark.parametrize("opened_with", ["bearer", "ticket"])
async def test_a_websocket_does_not_outlive_its_login(app: Quart, opened_with: str) -> None:
    """A socket opened with a bearer token, or with a ticket (a browser's way; the ticket names
    its login), is closed when its login ends; a command that raced the closing is checked in
    its own statements (refused, changing nothing)."""
    alice, bob = await funded_players(app, 2)
    client = app.test_client()
    if opened_with == "bearer":
        socket = client.websocket("/ws", headers=bearer(alice["access_token"]))
    else:
        issued = await client.post("/auth/stream-ticket", headers=bearer(alice["access_token"]))
        socket = client.websocket(f"/ws?ticket={(await issued.get_json())['ticket']}")
    async with socket as ws:
        await ws.send(json.dumps({"op": "join", "stake": 12, "ref": "j1"}))
        reply = json.loads(await ws.receive())
        assert reply["ok"] is True, reply
        room_id = reply["result"]["room"]["id"]
        joined = await client.post(
            "/games/join", json={"stake": 12}, headers=bearer(bob["access_token"])
        )
        assert joined.status_code == 200
        room = (await joined.get_json())["room"]
        logout = await client.post("/auth/logout", headers=bearer(alice["access_token"]))
        assert logout.status_code == 204
        for op in ("pull-trigger", "leave"):
            await ws.send(json.dumps({"op": op, "room_id": room_id, "ref": op}))
        async with asyncio.timeout(5):
            while True:
                message = json.loads(await ws.receive())
                if message["op"] == "error":
                    break
                if message["op"] == "reply":
                    assert message["ok"] is False, message
                    assert message["error"]["code"] == "session_revoked"
        assert message["error"]["code"] == "session_revoked"
        with pytest.raises(WebsocketDisconnectError):
            await ws.receive()
    after = await client.get(f"/games/rooms/{room_id}", headers=bearer(bob["access_token"]))
    assert (await after.get_json())["room"]["seq"] == room["seq"]
    assert await books_balance(app.extensions[EXTENSION]) == []


def _ids(events: list[ServerSentEvent]) -> list[tuple[str, str]]:
    return [(event.event, event.id or "") for event in events]


async def test_lobby_and_room_streams_give_a_snapshot_for_ids_they_cannot_honour(
    app: Quart,
) -> None:
    """Back with an id of another epoch, ahead of the stream, from before epochs or from before
    the broker lost everything (streams staying open meanwhile): a snapshot, then every event.
    A room stream's id is its seq, whatever the broker lost."""
    runtime: Runtime = app.extensions[EXTENSION]
    alice, bob, carol = await funded_players(app, 3)
    auth = bearer(carol["access_token"])
    async with live_server(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as http:
        opened = await http.post(
            "/games/join", json={"stake": 20}, headers=bearer(alice["access_token"])
        )
        room_id, seq = opened.json()["room"]["id"], opened.json()["room"]["seq"]
        room_path = f"/games/rooms/{room_id}/events"
        first = Reader(http, "/games/lobby/events", auth)
        (lobby,) = await first.count(1)
        await first.stop()
        epoch, _, offset = (lobby.id or "").rpartition("-")
        assert lobby.event == "lobby" and epoch and offset.isdigit()
        assert [room["id"] for room in lobby.json()["rooms"]] == [room_id]

        def back(path: str, last_id: str) -> Reader:
            return Reader(http, path, {**auth, "Last-Event-ID": last_id}, reconnect=True)

        lobbies = [back("/games/lobby/events", i) for i in ("0stale-1", f"{epoch}-500", "500")]
        rooms = [back(room_path, i) for i in (str(seq + 1), "500")]
        current = back(room_path, str(seq))  # nothing missed: nothing sent, no snapshot
        for reader in lobbies:
            assert _ids(await reader.count(1)) == [("lobby", lobby.id or "")]
        for reader in rooms:
            assert _ids(await reader.count(1)) == [("snapshot", str(seq))]
        joined = await http.post(
            "/games/join", json={"stake": 20}, headers=bearer(bob["access_token"])
        )
        assert joined.status_code == 200
        played = [(t, str(seq + n)) for n, t in enumerate(TYPES_ON_SEATING, start=1)]
        for reader in rooms:
            assert _ids((await reader.count(4))[1:]) == played
        assert _ids(await current.count(3)) == played
        updated = [("room_updated", f"{epoch}-{int(offset) + 1}")]
        for reader in lobbies:
            assert _ids((await reader.count(2))[1:]) == updated

        # The broker loses everything (Redis restarted empty, or flushed); the streams stay open.
        await lose_everything(runtime.broker)
        # The lobby starts a new epoch: each stream ends at its first event, comes back with
        # its last id and gets a lobby snapshot, then every later event.
        mine = await http.post("/games/join", json={"stake": 30}, headers=auth)
        mine_id = mine.json()["room"]["id"]
        for reader in lobbies:
            resumed = (await reader.count(3))[2]
            new, _, at = (resumed.id or "").rpartition("-")
            assert (resumed.event, at) == ("lobby", "1") and new not in {"", epoch}
            assert mine_id in [room["id"] for room in resumed.json()["rooms"]]
        left = await http.post("/games/leave", json={"room_id": mine_id}, headers=auth)
        assert left.status_code == 200
        for reader in lobbies:
            assert _ids((await reader.count(4))[3:]) == [("room_closed", f"{new}-2")]
        # A room's seqs go on from the database: exactly the next events, on the same streams.
        view = joined.json()["room"]
        shooter = alice if view["turn_user_id"] == alice["user"]["id"] else bob
        pulled = await http.post(
            "/games/pull-trigger",
            json={"room_id": room_id},
            headers=bearer(shooter["access_token"]),
        )
        assert pulled.status_code == 200
        after = pulled.json()["room"]["seq"]
        for reader in [*rooms, current]:
            await reader.until(lambda events: events[-1].id == str(after))
            ids = [int(event.id or 0) for event in reader.events if event.event != "snapshot"]
            assert ids == list(range(seq + 1, after + 1))
            assert len(reader.starts) == 1  # never cut off
        for reader in [*lobbies, *rooms, current]:
            await reader.stop()


async def test_room_stream_ids_are_ascii_seqs(app: Quart) -> None:
    (alice,) = await funded_players(app, 1)
    auth = bearer(alice["access_token"])
    async with live_server(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as http:
        opened = await http.post("/games/join", json={"stake": 20}, headers=auth)
        path = f"/games/rooms/{opened.json()['room']['id']}/events"
        for raw in [*MALFORMED_IDS, "e-1", "0stale-1"]:
            refused = await http.get(path, headers=with_last_event_id(auth, raw))
            assert refused.status_code == 422, raw
            assert refused.json()["error"]["code"] == "validation_error"
        # Checked before the room is looked up.
        missing = await http.get(
            "/games/rooms/987654/events", headers={**auth, "Last-Event-ID": "e-1"}
        )
        assert missing.status_code == 422
