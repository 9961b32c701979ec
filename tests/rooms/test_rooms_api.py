"""Russian Roulette over HTTP: matchmaking, a whole match with a spectator's side bets, money."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from quart.typing import TestClientProtocol

from gamehub import fairness
from gamehub.runtime import Runtime
from tests.funding import books_balance, fund
from tests.helpers import bearer, error_of, place_side_bet, register


async def _player(
    client: TestClientProtocol, runtime: Runtime, cents: int = 100_000
) -> dict[str, Any]:
    data = await register(client)
    await fund(runtime, data["user"]["id"], cents)
    return data


async def _wallet(client: TestClientProtocol, token: str) -> dict[str, Any]:
    profile: dict[str, Any] = await (await client.get("/profile", headers=bearer(token))).get_json()
    return profile


async def test_two_players_play_a_whole_match(client: TestClientProtocol, runtime: Runtime) -> None:
    alice = await _player(client, runtime)
    bob = await _player(client, runtime)
    carol = await _player(client, runtime)  # a spectator who bets
    opened = await client.post(
        "/games/join", json={"stake": "50.00"}, headers=bearer(alice["access_token"])
    )
    assert opened.status_code == 200, await opened.get_data(as_text=True)
    room = (await opened.get_json())["room"]
    assert room["status"] == "waiting" and room["stake"] == "50.00" and room["pot"] == "50.00"
    assert (await _wallet(client, alice["access_token"]))["balance"] == "1000.00"
    assert (await _wallet(client, alice["access_token"]))["held"] == "50.00"

    joined = await client.post(
        "/games/join", json={"stake": 50}, headers=bearer(bob["access_token"])
    )
    room = (await joined.get_json())["room"]
    assert room["status"] == "playing" and room["pot"] == "100.00"
    room_id = room["id"]
    assert len(room["players"]) == 2 and room["turn_user_id"] in {
        alice["user"]["id"],
        bob["user"]["id"],
    }
    assert (
        room["fairness"]["server_seed"] is None and len(room["fairness"]["server_seed_hash"]) == 64
    )

    tokens = {alice["user"]["id"]: alice["access_token"], bob["user"]["id"]: bob["access_token"]}
    bets: list[dict[str, Any]] = []
    outcome = "click"
    while outcome == "click":
        shooter = room["turn_user_id"]
        other = next(uid for uid in tokens if uid != shooter)
        if room["chambers_left"] >= 2:
            bets.append(await place_side_bet(client, room_id, carol["access_token"]))
        wrong = await client.post(
            "/games/pull-trigger", json={"room_id": room_id}, headers=bearer(tokens[other])
        )
        assert wrong.status_code == 409 and (await error_of(wrong))["code"] == "not_your_turn"
        stranger = await client.post(
            "/games/pull-trigger", json={"room_id": room_id}, headers=bearer(carol["access_token"])
        )
        assert stranger.status_code == 403 and (await error_of(stranger))["code"] == "not_a_player"
        pulled = await client.post(
            "/games/pull-trigger", json={"room_id": room_id}, headers=bearer(tokens[shooter])
        )
        assert pulled.status_code == 200, await pulled.get_data(as_text=True)
        body = await pulled.get_json()
        outcome, room = body["outcome"], body["room"]
        assert body["shooter"] == shooter

    assert room["status"] == "finished"
    seed = room["fairness"]["server_seed"]
    assert fairness.commitment(seed) == room["fairness"]["server_seed_hash"]
    draw = fairness.roulette_draw(seed, room["fairness"]["client_seed"], room_id)
    assert room["pull_number"] == draw.bullet + 1
    winner = room["winner_user_id"]
    loser = next(uid for uid in tokens if uid != winner)
    assert (await _wallet(client, tokens[winner]))["balance"] == "1045.00"  # 100 pot - 5 rake
    assert (await _wallet(client, tokens[loser]))["balance"] == "950.00"
    assert bets[0]["odds"] == "5.7000" and bets[0]["potential_payout"] == "57.00"
    # Carol's last bet was on the bang; the earlier ones lost.
    expected = 1000_00 - 10_00 * len(bets)
    if bets and bets[-1]["pull_number"] == room["pull_number"]:
        expected += int(bets[-1]["potential_payout"].replace(".", ""))
    carol_wallet = await _wallet(client, carol["access_token"])
    assert carol_wallet["balance"] == f"{expected // 100}.{expected % 100:02d}"
    assert carol_wallet["held"] == "0.00"
    history = await (await client.get("/history", headers=bearer(tokens[winner]))).get_json()
    stake_rows = [bet for bet in history["bets"] if bet["bet_type"] == "stake"]
    assert stake_rows and stake_rows[0]["status"] == "won"
    assert await books_balance(runtime) == []


async def test_join_rules(client: TestClientProtocol, runtime: Runtime) -> None:
    alice = await _player(client, runtime)
    bob = await _player(client, runtime)
    poor = await _player(client, runtime, cents=500)
    headers = bearer(alice["access_token"])
    assert (await client.post("/games/join", json={"stake": 5}, headers=headers)).status_code == 422
    assert (
        await client.post("/games/join", json={"stake": "NaN"}, headers=headers)
    ).status_code == 422
    room = (
        await (await client.post("/games/join", json={"stake": 20}, headers=headers)).get_json()
    )["room"]
    again = await client.post("/games/join", json={"stake": 20}, headers=headers)
    assert again.status_code == 409 and (await error_of(again))["code"] == "already_seated"
    mismatch = await client.post(
        "/games/join",
        json={"stake": 30, "room_id": room["id"]},
        headers=bearer(bob["access_token"]),
    )
    assert mismatch.status_code == 409 and (await error_of(mismatch))["code"] == "stake_mismatch"
    broke = await client.post(
        "/games/join", json={"stake": 20}, headers=bearer(poor["access_token"])
    )
    assert broke.status_code == 409 and (await error_of(broke))["code"] == "insufficient_funds"
    assert (await _wallet(client, poor["access_token"]))["balance"] == "5.00"
    left = await client.post("/games/leave", json={"room_id": room["id"]}, headers=headers)
    body = await left.get_json()
    assert body["refunded"] == "20.00" and body["forfeited"] is None
    assert body["room"]["status"] == "cancelled"
    assert (await _wallet(client, alice["access_token"]))["balance"] == "1000.00"
    missing = await client.get("/games/rooms/999999", headers=headers)
    assert missing.status_code == 404
    assert await books_balance(runtime) == []


async def test_fifty_join_one_waiting_room_at_once(
    client: TestClientProtocol, runtime: Runtime
) -> None:
    host = await _player(client, runtime)
    room = (
        await (
            await client.post(
                "/games/join", json={"stake": 10}, headers=bearer(host["access_token"])
            )
        ).get_json()
    )["room"]
    players = [await _player(client, runtime) for _ in range(50)]
    responses = await asyncio.gather(
        *(
            client.post(
                "/games/join",
                json={"stake": 10, "room_id": room["id"]},
                headers=bearer(p["access_token"]),
            )
            for p in players
        )
    )
    assert all(r.status_code == 200 for r in responses)
    rooms = [(await r.get_json())["room"] for r in responses]
    in_host_room = [r for r in rooms if r["id"] == room["id"]]
    assert len(in_host_room) == 1 and in_host_room[0]["status"] == "playing"
    others = {r["id"] for r in rooms if r["id"] != room["id"]}
    assert len(others) == 25  # the other 49 paired up among themselves: 24 full rooms and 1 waiting
    assert await books_balance(runtime) == []


async def test_simultaneous_pulls_only_one_is_accepted(
    client: TestClientProtocol, runtime: Runtime
) -> None:
    a = await _player(client, runtime)
    b = await _player(client, runtime)
    await client.post("/games/join", json={"stake": 10}, headers=bearer(a["access_token"]))
    room = (
        await (
            await client.post("/games/join", json={"stake": 10}, headers=bearer(b["access_token"]))
        ).get_json()
    )["room"]
    shooter_token = (
        a["access_token"] if room["turn_user_id"] == a["user"]["id"] else b["access_token"]
    )
    results = await asyncio.gather(
        *(
            client.post(
                "/games/pull-trigger", json={"room_id": room["id"]}, headers=bearer(shooter_token)
            )
            for _ in range(2)
        ),
        *(
            client.post("/games/pull-trigger", json={"room_id": room["id"]}, headers=bearer(t))
            for t in (a["access_token"], b["access_token"])
        ),
    )
    statuses = sorted(r.status_code for r in results)
    assert statuses.count(200) == 1
    assert await books_balance(runtime) == []


@pytest.mark.parametrize("body", [{"room_id": "1"}, {"room_id": True}, {}, {"room_id": 1, "x": 1}])
async def test_bad_room_commands_are_422(
    client: TestClientProtocol, runtime: Runtime, body: dict[str, Any]
) -> None:
    a = await _player(client, runtime)
    response = await client.post(
        "/games/pull-trigger", json=body, headers=bearer(a["access_token"])
    )
    assert response.status_code == 422


async def test_the_players_streams_are_told_their_wallets_after_a_join(
    client: TestClientProtocol, runtime: Runtime
) -> None:
    """Wallet events after room commands are read in batches off the room's path
    (gamehub/walletnews.py): both players' streams still hear of the stakes they put up."""
    from gamehub.userstream import channel

    alice = await _player(client, runtime)
    bob = await _player(client, runtime)
    for player in (alice, bob):
        joined = await client.post(
            "/games/join", json={"stake": "25.00"}, headers=bearer(player["access_token"])
        )
        assert joined.status_code == 200, await joined.get_data(as_text=True)

    async def last_wallet(user_id: int) -> dict[str, str] | None:
        events = await runtime.broker.history(channel(user_id), 0) or []
        wallets = [json.loads(e.data)["wallet"] for e in events if e.type == "wallet"]
        return wallets[-1] if wallets else None

    for player in (alice, bob):
        user_id = player["user"]["id"]
        async with asyncio.timeout(5):
            while (wallet := await last_wallet(user_id)) is None or wallet["held"] != "25.00":
                await asyncio.sleep(0.02)
        assert wallet == {
            "balance": "1000.00",
            "held": "25.00",
            "available": "975.00",
            "currency": "KES",
        }


async def test_the_players_streams_hear_of_their_rooms(
    client: TestClientProtocol, runtime: Runtime
) -> None:
    """`/events` carries a `room` event whenever a room the user sits in changes its seats or
    status, to the player who left too; a bet or a click is not such a change."""
    from gamehub.userstream import channel

    alice, bob, carol = [await _player(client, runtime) for _ in range(3)]
    # Carol opens a room at her own stake and leaves it while it waits: cancelled.
    lonely = await client.post(
        "/games/join", json={"stake": "30.00"}, headers=bearer(carol["access_token"])
    )
    lonely_id = (await lonely.get_json())["room"]["id"]
    left = await client.post(
        "/games/leave", json={"room_id": lonely_id}, headers=bearer(carol["access_token"])
    )
    assert left.status_code == 200
    # Alice and Bob meet; Alice forfeits by leaving the match.
    for player in (alice, bob):
        joined = await client.post(
            "/games/join", json={"stake": "25.00"}, headers=bearer(player["access_token"])
        )
        assert joined.status_code == 200
    room_id = (await joined.get_json())["room"]["id"]
    forfeit = await client.post(
        "/games/leave", json={"room_id": room_id}, headers=bearer(alice["access_token"])
    )
    assert forfeit.status_code == 200

    async def rooms_heard(player: dict[str, Any], count: int) -> list[tuple[int, str]]:
        async with asyncio.timeout(5):
            while True:
                events = await runtime.broker.history(channel(player["user"]["id"]), 0) or []
                heard = [json.loads(e.data) for e in events if e.type == "room"]
                if len(heard) >= count:
                    return [(body["room_id"], body["room"]["status"]) for body in heard]
                await asyncio.sleep(0.02)

    assert await rooms_heard(carol, 2) == [(lonely_id, "waiting"), (lonely_id, "cancelled")]
    assert await rooms_heard(alice, 3) == [
        (room_id, "waiting"),
        (room_id, "playing"),
        (room_id, "finished"),
    ]
    assert await rooms_heard(bob, 2) == [(room_id, "playing"), (room_id, "finished")]
