"""Every balance change reaches the `/events` stream of every player it touched, as a `wallet`
event with the exact figures GET /wallet gives, within a second of the request that caused it:
a deposit, a withdrawal (held, then paid), a stake escrowed and refunded, side bets placed, won
and lost, and a match won and lost. The match's loser and the losing bettor are the cases a rule
that looked only at wallet postings missed (their money leaves the escrow, not their wallet)."""

from __future__ import annotations

import time
from typing import Any

from httpx_sse import ServerSentEvent

from tests.sse import Reader
from tests.wallet.conftest import Live, Player, new_player
from tests.wallet.flows import fund, phone, post, settled, wallet

# "Within the same second as the room event that caused it": the request returns once the room's
# events are published; the wallet events follow within this.
WITHIN_S = 1.0


class Watched:
    """A player and their own stream, read in the background over real HTTP."""

    def __init__(self, live: Live, player: Player) -> None:
        self.live = live
        self.player = player
        self.reader = Reader(live.http, "/events", player.headers)
        self.mark = 0

    async def opened(self) -> None:
        (first,) = await self.reader.count(1)
        assert first.event == "snapshot"
        self.mark = len(self.reader.events)

    def since_mark(self) -> None:
        """Only wallet events from now on count for the next `told`."""
        self.mark = len(self.reader.events)

    async def told(self, started: float) -> dict[str, str]:
        """The wallet as GET /wallet has it, once a wallet event since the mark says exactly
        that; it must come within WITHIN_S of `started`."""
        expected = await wallet(self.live, self.player)

        def carried(events: list[ServerSentEvent]) -> bool:
            return any(
                event.event == "wallet" and event.json()["wallet"] == expected
                for event in events[self.mark :]
            )

        left = WITHIN_S - (time.monotonic() - started)
        try:
            await self.reader.until(carried, timeout=max(left, 0.01))
        except TimeoutError:
            seen = [
                e.json()["wallet"] for e in self.reader.events[self.mark :] if e.event == "wallet"
            ]
            raise AssertionError(
                f"player {self.player.id}: no wallet event {expected} within {WITHIN_S} s; "
                f"the stream said {seen}"
            ) from None
        self.since_mark()
        return expected


async def _act(live: Live, player: Player, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await post(live, player, path, body)
    assert response.status_code in (200, 202), response.text
    result: dict[str, Any] = response.json()
    return result


async def test_every_balance_change_reaches_each_affected_players_stream(live: Live) -> None:
    alice, bob, carol, dave = [await new_player(live) for _ in range(4)]
    for player in (alice, bob, carol, dave):
        await fund(live, player, 1000)
    watched = {player.id: Watched(live, player) for player in (alice, bob, carol, dave)}
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
        await one.reader.stop()
