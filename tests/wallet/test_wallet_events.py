"""Every balance change reaches the own stream of every player it touched, over SSE (`/events`)
and over the WebSocket (`/ws`, the `account` stream), as a `wallet` event with the exact figures
GET /wallet gives, within a second of the request that caused it:
a deposit, a withdrawal (held, then paid), a stake escrowed and refunded, side bets placed, won
and lost, and a match won and lost. The match's loser and the losing bettor are the cases a rule
that looked only at wallet postings missed (their money leaves the escrow, not their wallet)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import aiohttp

from tests.sse import Reader
from tests.wallet.conftest import Live, Player, new_player
from tests.wallet.flows import fund, phone, post, settled, wallet

# "Within the same second as the room event that caused it": the request returns once the room's
# events are published; the wallet events follow within this.
WITHIN_S = 1.0


class Watched:
    """A player and their own streams, read in the background over real HTTP: SSE and the
    WebSocket's account stream."""

    def __init__(self, live: Live, player: Player, web: aiohttp.ClientSession) -> None:
        self.live = live
        self.player = player
        self.reader = Reader(live.http, "/events", player.headers)
        self.socket_events: list[tuple[str, dict[str, Any]]] = []
        self.socket_changed = asyncio.Event()
        self.socket = asyncio.create_task(self._socket(web))
        self.marks = (0, 0)

    async def _socket(self, web: aiohttp.ClientSession) -> None:
        url = self.live.base.replace("http://", "ws://") + "/ws"
        async with web.ws_connect(url, headers=self.player.headers) as socket:
            await socket.send_json({"op": "subscribe", "stream": "account", "ref": "mine"})
            async for message in socket:
                body = json.loads(message.data)
                if body["op"] == "reply":
                    assert body["ok"] and body["ref"] == "mine", body
                    continue
                assert body["op"] == "event" and body["stream"] == "account", body
                self.socket_events.append((body["event"], body["data"]))
                self.socket_changed.set()

    async def opened(self) -> None:
        (first,) = await self.reader.count(1)
        assert first.event == "snapshot"
        async with asyncio.timeout(10):
            while not self.socket_events:
                self.socket_changed.clear()
                await self.socket_changed.wait()
        assert self.socket_events[0][0] == "snapshot"
        self.since_mark()

    def since_mark(self) -> None:
        """Only wallet events from now on count for the next `told`."""
        self.marks = (len(self.reader.events), len(self.socket_events))

    def _wallets(self) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
        sse = [
            e.json()["wallet"] for e in self.reader.events[self.marks[0] :] if e.event == "wallet"
        ]
        ws = [
            data["wallet"] for kind, data in self.socket_events[self.marks[1] :] if kind == "wallet"
        ]
        return sse, ws

    async def told(self, started: float) -> dict[str, str]:
        """The wallet as GET /wallet has it, once a wallet event since the mark says exactly
        that on both streams; both must come within WITHIN_S of `started`."""
        expected = await wallet(self.live, self.player)
        left = WITHIN_S - (time.monotonic() - started)
        try:
            async with asyncio.timeout(max(left, 0.01)):
                while not all(expected in wallets for wallets in self._wallets()):
                    self.reader.changed.clear()
                    self.socket_changed.clear()
                    waits = [
                        asyncio.create_task(self.reader.changed.wait()),
                        asyncio.create_task(self.socket_changed.wait()),
                    ]
                    try:
                        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        for wait in waits:
                            wait.cancel()
        except TimeoutError:
            sse, ws = self._wallets()
            raise AssertionError(
                f"player {self.player.id}: no wallet event {expected} within {WITHIN_S} s on "
                f"both streams; SSE said {sse}, the WebSocket {ws}"
            ) from None
        self.since_mark()
        return expected

    async def stop(self) -> None:
        await self.reader.stop()
        self.socket.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.socket


async def _act(live: Live, player: Player, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await post(live, player, path, body)
    assert response.status_code in (200, 202), response.text
    result: dict[str, Any] = response.json()
    return result


async def test_every_balance_change_reaches_each_affected_players_stream(live: Live) -> None:
    alice, bob, carol, dave = [await new_player(live) for _ in range(4)]
    for player in (alice, bob, carol, dave):
        await fund(live, player, 1000)
    web = aiohttp.ClientSession()
    watched = {player.id: Watched(live, player, web) for player in (alice, bob, carol, dave)}
    for one in watched.values():
        await one.opened()

    async def everyone_told(*players: Player, started: float) -> dict[int, dict[str, str]]:
        return {player.id: await watched[player.id].told(started) for player in players}

    # A deposit: the balance changes when M-Pesa confirms (scenario 00: within the scaled second).
    started = time.monotonic()
    deposit = await _act(live, alice, "/deposit", {"amount": 100, "phone": phone("00")})
    assert (await settled(live, alice, deposit["transaction"]["id"]))["status"] == "completed"
    told = await everyone_told(alice, started=time.monotonic())
    assert told[alice.id]["balance"] == "1100.00"
    assert time.monotonic() - started < 5

    # A withdrawal: held at once, then paid.
    started = time.monotonic()
    withdrawal = await _act(live, alice, "/withdraw", {"amount": 50, "phone": phone("00")})
    assert (await settled(live, alice, withdrawal["transaction"]["id"]))["status"] == "completed"
    told = await everyone_told(alice, started=time.monotonic())
    assert told[alice.id] == {
        "balance": "1050.00",
        "held": "0.00",
        "available": "1050.00",
        "currency": "KES",
    }

    # A stake escrowed, then refunded on leaving the waiting room.
    started = time.monotonic()
    room = (await _act(live, dave, "/games/join", {"stake": 30}))["room"]
    assert (await everyone_told(dave, started=started))[dave.id]["held"] == "30.00"
    started = time.monotonic()
    await _act(live, dave, "/games/leave", {"room_id": room["id"]})
    assert (await everyone_told(dave, started=started))[dave.id]["held"] == "0.00"

    # A match: both stakes escrowed (the second join starts it).
    started = time.monotonic()
    room = (await _act(live, alice, "/games/join", {"stake": 50}))["room"]
    await everyone_told(alice, started=started)
    started = time.monotonic()
    room = (await _act(live, bob, "/games/join", {"stake": 50, "room_id": room["id"]}))["room"]
    await everyone_told(bob, started=started)
    assert room["status"] == "playing"

    # Side bets on the first pull, one of each kind: one wins, the other loses.
    for bettor, bet_type in ((carol, "survival"), (dave, "elimination")):
        started = time.monotonic()
        await _act(
            live,
            bettor,
            "/games/place-bet",
            {"room_id": room["id"], "bet_amount": "10.50", "bet_type": bet_type},
        )
        assert (await everyone_told(bettor, started=started))[bettor.id]["held"] == "10.50"

    outcome, first = "click", True
    while outcome == "click":
        shooter = alice if room["turn_user_id"] == alice.id else bob
        started = time.monotonic()
        pulled = await _act(live, shooter, "/games/pull-trigger", {"room_id": room["id"]})
        outcome, room = pulled["outcome"], pulled["room"]
        affected = [carol, dave] if first else []
        if outcome == "bang":
            affected += [alice, bob]
        told = await everyone_told(*affected, started=started)
        if first:
            # Both bets settled: nothing of theirs is held any more, won or lost.
            assert told[carol.id]["held"] == told[dave.id]["held"] == "0.00"
            assert {told[carol.id]["balance"], told[dave.id]["balance"]} > {"989.50"}
        first = False

    assert room["status"] == "finished"
    winner = room["winner_user_id"]
    # The pot (100) less the 5% rake to the winner; the loser's stake is gone. Neither holds any.
    assert told[winner]["balance"] == ("1095.00" if winner == alice.id else "1045.00")
    loser = bob if winner == alice.id else alice
    assert told[loser.id]["balance"] == ("950.00" if loser is bob else "1000.00")
    assert told[winner]["held"] == told[loser.id]["held"] == "0.00"
    for one in watched.values():
        await one.stop()
    await web.close()


async def test_the_websockets_account_stream_resumes_exactly_and_refuses_bad_ids(
    live: Live,
) -> None:
    player = await new_player(live)
    url = live.base.replace("http://", "ws://") + "/ws"
    async with aiohttp.ClientSession() as web:
        async with web.ws_connect(url, headers=player.headers) as socket:
            await socket.send_json(
                {"op": "subscribe", "stream": "account", "last_event_id": "x-y", "ref": 1}
            )
            refused = await socket.receive_json(timeout=5)
            assert refused["ok"] is False and refused["error"]["code"] == "validation_error"
            await socket.send_json({"op": "subscribe", "stream": "account", "ref": 2})
            assert (await socket.receive_json(timeout=5))["ok"] is True
            snapshot = await socket.receive_json(timeout=5)
            assert (
                snapshot["event"] == "snapshot" and snapshot["data"]["wallet"]["balance"] == "0.00"
            )
            await fund(live, player, 10)
            # Funding moves no stream by itself; a withdrawal held at once does.
            response = await post(live, player, "/withdraw", {"amount": 10, "phone": phone("04")})
            assert response.status_code == 202, response.text
            seen = [await socket.receive_json(timeout=5) for _ in range(2)]
            assert [m["event"] for m in seen] == ["transaction", "wallet"]
        async with web.ws_connect(url, headers=player.headers) as again:
            await again.send_json(
                {"op": "subscribe", "stream": "account", "last_event_id": seen[0]["id"], "ref": 3}
            )
            assert (await again.receive_json(timeout=5))["ok"] is True
            replayed = await again.receive_json(timeout=5)
            assert replayed["id"] == seen[1]["id"] and replayed["data"] == seen[1]["data"]
            assert replayed["data"]["wallet"]["held"] == "10.00"
