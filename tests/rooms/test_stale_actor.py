"""An actor whose room another instance moved on (a match's players on two instances): it reads
the room as last committed and sends its one guarded statement, without the transactional way,
and the match it plays is the one the rules alone give."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from quart import Quart
from sqlalchemy import select

from gamehub import ledger
from gamehub.app import create_app
from gamehub.models import BetHistory, RoomEvent
from gamehub.rooms import roulette, store, store_pg
from gamehub.rooms.actor import Message, RoomActor
from gamehub.rooms.roulette_game import GAME
from gamehub.runtime import EXTENSION, Runtime
from gamehub.settings import Settings
from tests.funding import books_balance, fund
from tests.helpers import bearer, register

# Times differ from run to run; everything else of an event is the rules'.
_TIMES = ("at", "deadline")


async def _stored_events(runtime: Runtime, room_id: int) -> list[dict[str, Any]]:
    async with runtime.sessions() as session:
        rows = await session.scalars(
            select(RoomEvent.data).where(RoomEvent.room_id == room_id).order_by(RoomEvent.seq)
        )
        return [json.loads(data) for data in rows]


def _replayed(
    room_id: int, state: roulette.RoomState, seq: int, played: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The events the rules alone give for the bets and pulls of `played` (stored events after
    `seq`), applied in their order to the room as it was at `seq`, as store.plan numbers them."""
    replayed: list[dict[str, Any]] = []
    for event in played:
        now = datetime.fromisoformat(event["at"])
        command: roulette.PlaceBet | roulette.Pull
        if event["type"] == "bet_placed":
            amount = int(event["bet_amount"].replace(".", ""))
            bet = (event["bet_id"], event["user_id"], event["bet_type"], amount, now)
            command = roulette.PlaceBet(*bet)
        elif event["type"] == "trigger_pulled":
            command = roulette.Pull(user_id=event["shooter"], now=now, sent_at=now)
        else:
            continue
        transition = GAME.command(state, command, now)
        for made in transition.events:
            seq += 1
            replayed.append({"seq": seq, **store.event_body(room_id, made, now)})
        state = transition.state
    return replayed


def _timeless(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.items() if k not in _TIMES} for e in events]


async def test_commands_alternating_between_two_instances_need_no_transaction(
    app: Quart, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bob joins on the instance that did not open the room, a spectator's side bets go to one
    instance and the pulls to the other, so every message finds its actor's room moved on (or
    never known): each is judged against the room read as last committed and saved by its one
    guarded statement. The match is the one the rules give for those commands in that order,
    every bet is settled and the books balance; a stale timer left behind changes nothing."""
    runtime: Runtime = app.extensions[EXTENSION]
    transactional: list[Message] = []
    apply_locked = RoomActor._apply_locked

    async def counted(actor: RoomActor, message: Message, now: datetime) -> Any:
        transactional.append(message)
        return await apply_locked(actor, message, now)

    monkeypatch.setattr(RoomActor, "_apply_locked", counted)
    other = create_app(settings)
    async with other.test_app():
        instances = [app.test_client(), other.test_client()]
        alice, bob, carol = [await register(instances[0]) for _ in range(3)]
        for player in (alice, bob, carol):
            await fund(runtime, player["user"]["id"], 100_000)
        tokens = {p["user"]["id"]: p["access_token"] for p in (alice, bob)}

        opened = await instances[0].post(
            "/games/join", json={"stake": 10}, headers=bearer(alice["access_token"])
        )
        room_id = int((await opened.get_json())["room"]["id"])
        # A settlement that finds an account not open yet (the room's house sub-account, on a
        # fresh database) takes the transactional way, which opens it: not this test's matter.
        async with runtime.sessions() as session, session.begin():
            await ledger.account_id(session, ledger.house_shard(room_id), "house")
        joined = await instances[1].post(
            "/games/join",
            json={"stake": 10, "room_id": room_id},
            headers=bearer(bob["access_token"]),
        )
        assert joined.status_code == 200, await joined.get_data(as_text=True)
        view = (await joined.get_json())["room"]
        assert view["status"] == "playing"
        # The match as it started: the rules are replayed from it below.
        started = await store_pg.snapshot(runtime.pg, room_id)
        assert started is not None and started[0] == view["seq"]
        started_at, before = started[0], GAME.load(started[1])

        bets = 0
        while view["status"] == "playing":
            if view["chambers_left"] >= 2:
                bet = await instances[0].post(
                    "/games/place-bet",
                    json={"room_id": room_id, "bet_amount": 10, "bet_type": "survival"},
                    headers=bearer(carol["access_token"]),
                )
                assert bet.status_code == 200, await bet.get_data(as_text=True)
                bets += 1
            pulled = await instances[1].post(
                "/games/pull-trigger",
                json={"room_id": room_id},
                headers=bearer(tokens[view["turn_user_id"]]),
            )
            assert pulled.status_code == 200, await pulled.get_data(as_text=True)
            view = (await pulled.get_json())["room"]
        assert view["status"] == "finished" and bets >= 1
        assert transactional == []

        # The instance that placed the last bet still remembers the room before the last
        # pull: its timer finds the match over in the room as read, and writes nothing.
        registry = app.extensions["gamehub_rooms"].registry
        stale = registry.actors.get(room_id)
        assert stale is not None and stale.known is not None and stale.known[0] < view["seq"]
        await registry.timeout(room_id)
        assert transactional == []
        assert room_id not in registry.actors  # the room is over: its actor stopped

    stored = await _stored_events(runtime, room_id)
    assert [e["seq"] for e in stored] == list(range(1, view["seq"] + 1))
    replayed = _replayed(room_id, before, started_at, stored[started_at:])
    assert _timeless(replayed) == _timeless(stored[started_at:])
    async with runtime.sessions() as session:
        pending = await session.scalars(
            select(BetHistory.id).where(
                BetHistory.room_id == room_id, BetHistory.status == "pending"
            )
        )
        assert list(pending) == []
    assert await books_balance(runtime) == []
