"""Two instances playing one room, and the one-statement path of a room command meeting a room
that another instance moved on, or a refusal by the rules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from quart import Quart
from sqlalchemy import func, select, update

from gamehub import fairness, ledger, ledger_pg
from gamehub.app import create_app
from gamehub.db import utcnow
from gamehub.models import Account, ActiveSeat, Multiplayer, RoomEvent
from gamehub.rooms import roulette, store, store_pg
from gamehub.rooms.actor import Message, RoomActor
from gamehub.rooms.roulette_game import GAME
from gamehub.rooms.service import Rooms, RoomView
from gamehub.runtime import EXTENSION, Runtime
from gamehub.settings import Settings
from tests.funding import books_balance, fund
from tests.helpers import bearer, error_of, register


async def _pair(app: Quart) -> tuple[dict[str, Any], dict[str, Any], int]:
    runtime: Runtime = app.extensions[EXTENSION]
    client = app.test_client()
    players = []
    for _ in range(2):
        data = await register(client)
        await fund(runtime, data["user"]["id"], 100_000)
        players.append(data)
    for player in players:
        joined = await client.post(
            "/games/join", json={"stake": 10}, headers=bearer(player["access_token"])
        )
        assert joined.status_code == 200, await joined.get_data(as_text=True)
    room = (await joined.get_json())["room"]
    return players[0], players[1], int(room["id"])


async def _events(runtime: Runtime, room_id: int) -> list[int]:
    async with runtime.sessions() as session:
        rows = await session.scalars(
            select(RoomEvent.seq).where(RoomEvent.room_id == room_id).order_by(RoomEvent.seq)
        )
        return list(rows)


async def test_pulls_alternating_between_two_instances_play_one_match(
    app: Quart, settings: Settings
) -> None:
    """Each instance's actor remembers the room as it last wrote it; the other instance's
    pulls make that memory stale, and every pull must still be judged and saved correctly."""
    alice, bob, room_id = await _pair(app)
    tokens = {p["user"]["id"]: p["access_token"] for p in (alice, bob)}
    other = create_app(settings)
    async with other.test_app():
        instances = [app.test_client(), other.test_client()]
        view = (
            await (
                await instances[0].get(
                    f"/games/rooms/{room_id}", headers=bearer(alice["access_token"])
                )
            ).get_json()
        )["room"]
        pulls = 0
        while view["status"] == "playing":
            shooter = view["turn_user_id"]
            client = instances[pulls % 2]
            pulled = await client.post(
                "/games/pull-trigger", json={"room_id": room_id}, headers=bearer(tokens[shooter])
            )
            assert pulled.status_code == 200, await pulled.get_data(as_text=True)
            view = (await pulled.get_json())["room"]
            pulls += 1
        assert view["status"] == "finished" and 1 <= pulls <= 6
        runtime: Runtime = app.extensions[EXTENSION]
        seqs = await _events(runtime, room_id)
        assert seqs == list(range(1, view["seq"] + 1))
        assert await books_balance(runtime) == []


async def test_a_stale_one_statement_save_writes_nothing(app: Quart) -> None:
    runtime: Runtime = app.extensions[EXTENSION]
    for _ in range(20):  # a first pull that ends the match (one in six) moves money: next room
        _alice, _bob, room_id = await _pair(app)
        seq, state = await _stored(runtime, room_id)
        async with runtime.sessions() as session:
            game_id = await session.scalar(
                select(Multiplayer.game_id).where(Multiplayer.id == room_id)
            )
        assert game_id is not None
        room = store.RoomRow(room_id, game_id, seq, None)
        shooter = state.players[state.turn_seat or 0].user_id
        now = utcnow()
        transition = roulette.apply(state, roulette.Pull(user_id=shooter, now=now))
        writes = store.plan(GAME, room, state, transition, now)
        if not writes.postings:
            break
    assert not writes.postings

    # Another instance moves the room on (here: its seq) before this save reaches the database.
    async with runtime.sessions() as session, session.begin():
        await session.execute(
            update(Multiplayer).where(Multiplayer.id == room_id).values(seq=Multiplayer.seq + 1)
        )
    assert await store_pg.save_guarded(runtime.pg, GAME, writes, None) == (False, True)
    async with runtime.sessions() as session:
        stored = await session.scalar(select(Multiplayer.seq).where(Multiplayer.id == room_id))
        events = await session.scalar(
            select(func.count()).select_from(RoomEvent).where(RoomEvent.room_id == room_id)
        )
    assert (stored, events) == (seq + 1, seq)

    # Put it back: the same writes now match the room and are saved whole.
    async with runtime.sessions() as session, session.begin():
        await session.execute(update(Multiplayer).where(Multiplayer.id == room_id).values(seq=seq))
    assert await store_pg.save_guarded(runtime.pg, GAME, writes, None) == (True, True)
    assert await _events(runtime, room_id) == list(range(1, writes.seq + 1))
    stored_after = await store_pg.snapshot(runtime.pg, room_id)
    assert stored_after is not None and stored_after[0] == writes.seq


async def test_a_pull_with_a_logged_out_token_changes_nothing(app: Quart) -> None:
    """The pull route checks only the token; the command itself checks the login is live."""
    alice, bob, room_id = await _pair(app)
    client = app.test_client()
    view = (
        await (
            await client.get(f"/games/rooms/{room_id}", headers=bearer(alice["access_token"]))
        ).get_json()
    )["room"]
    shooter = alice if view["turn_user_id"] == alice["user"]["id"] else bob
    headers = bearer(shooter["access_token"])
    assert (await client.post("/auth/logout", headers=headers)).status_code == 204
    refused = await client.post("/games/pull-trigger", json={"room_id": room_id}, headers=headers)
    assert refused.status_code == 401
    assert (await error_of(refused))["code"] == "session_revoked"
    runtime: Runtime = app.extensions[EXTENSION]
    assert await _events(runtime, room_id) == list(range(1, view["seq"] + 1))
    after = (
        await (
            await client.get(
                f"/games/rooms/{room_id}",
                headers=bearer(alice["access_token"] if shooter is bob else bob["access_token"]),
            )
        ).get_json()
    )["room"]
    assert (after["seq"], after["pull_number"]) == (view["seq"], view["pull_number"])


async def _stored(runtime: Runtime, room_id: int) -> tuple[int, roulette.RoomState]:
    """The room's seq and state as stored."""
    found = await store_pg.snapshot(runtime.pg, room_id)
    assert found is not None
    return found[0], GAME.load(found[1])


async def _planned_join(
    runtime: Runtime, room_id: int, user: dict[str, Any]
) -> tuple[store.Writes, list[Any]]:
    """The writes of `user` joining the waiting room, and their ledger transfers, as the
    actor's one-statement path plans them."""
    seq, state = await _stored(runtime, room_id)
    async with runtime.sessions() as session:
        game_id = await session.scalar(select(Multiplayer.game_id).where(Multiplayer.id == room_id))
    assert game_id is not None
    now = utcnow()
    join = roulette.Join(
        user_id=user["id"],
        username=user["username"],
        client_seed=user.get("client_seed") or "seed",
        stake=state.stake,
        now=now,
        server_seed=fairness.new_server_seed(),
    )
    room = store.RoomRow(room_id, game_id, seq, None)
    writes = store.plan(GAME, room, state, roulette.apply(state, join), now)

    async def resolve(code: str, _kind: str | None, _user_id: int | None) -> int:
        async with runtime.pg.connection() as connection:
            found = await ledger_pg.find_account(connection, code)
        assert found is not None
        return found

    moves = await store.transfer_specs(room_id, writes.postings, GAME.kind_prefix, resolve)
    return writes, moves


async def _room_untouched(runtime: Runtime, room_id: int, user_id: int, seq: int) -> None:
    async with runtime.sessions() as session:
        stored = await session.scalar(select(Multiplayer.seq).where(Multiplayer.id == room_id))
        seat = await session.scalar(select(ActiveSeat.room_id).where(ActiveSeat.user_id == user_id))
    assert stored == seq
    assert seat != room_id
    assert await _events(runtime, room_id) == list(range(1, seq + 1))
    assert await books_balance(runtime) == []


async def _turn(app: Quart, room_id: int, players: tuple[dict[str, Any], ...]) -> list[str]:
    """The players' tokens, the shooter's first."""
    client = app.test_client()
    headers = bearer(players[0]["access_token"])
    view = (await (await client.get(f"/games/rooms/{room_id}", headers=headers)).get_json())["room"]
    ordered = sorted(players, key=lambda p: p["user"]["id"] != view["turn_user_id"])
    return [p["access_token"] for p in ordered]


async def test_a_pull_out_of_turn_on_one_instance_reads_the_room_once_and_locks_nothing(
    app: Quart, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the one instance that plays the room, a pull out of turn is refused against the
    actor's memory, which one unlocked read confirms current: no transaction follows, and the
    memory is kept, so the shooter's pull then needs no read either."""
    alice, bob, room_id = await _pair(app)
    shooter, other = await _turn(app, room_id, (alice, bob))
    runtime: Runtime = app.extensions[EXTENSION]
    # A pull that ends the match settles into the house's account: open it, as a busy
    # database has it, so that the settlement needs no transaction to open it.
    async with runtime.sessions() as session, session.begin():
        await ledger.account_id(session, ledger.house_shard(room_id), "house")
    reads: list[int] = []
    transactional: list[Message] = []
    read_room, apply_locked = store_pg.read_room, RoomActor._apply_locked

    async def counted_read(pool: Any, room: int) -> Any:
        reads.append(room)
        return await read_room(pool, room)

    async def counted_locked(actor: RoomActor, message: Message, now: datetime) -> Any:
        transactional.append(message)
        return await apply_locked(actor, message, now)

    monkeypatch.setattr(store_pg, "read_room", counted_read)
    monkeypatch.setattr(RoomActor, "_apply_locked", counted_locked)
    client = app.test_client()
    wrong = await client.post(
        "/games/pull-trigger", json={"room_id": room_id}, headers=bearer(other)
    )
    assert wrong.status_code == 409 and (await error_of(wrong))["code"] == "not_your_turn"
    assert (reads, transactional) == ([room_id], [])
    pulled = await client.post(
        "/games/pull-trigger", json={"room_id": room_id}, headers=bearer(shooter)
    )
    assert pulled.status_code == 200, await pulled.get_data(as_text=True)
    assert (reads, transactional) == ([room_id], [])


async def test_a_pull_out_of_turn_with_a_logged_out_token_is_401(app: Quart) -> None:
    """A refusal by the rules is answered only once the login is known to be live."""
    alice, bob, room_id = await _pair(app)
    _shooter, other = await _turn(app, room_id, (alice, bob))
    client = app.test_client()
    assert (await client.post("/auth/logout", headers=bearer(other))).status_code == 204
    refused = await client.post(
        "/games/pull-trigger", json={"room_id": room_id}, headers=bearer(other)
    )
    assert refused.status_code == 401
    assert (await error_of(refused))["code"] == "session_revoked"


@pytest.mark.parametrize("obstacle", ["broke", "seated elsewhere"])
async def test_a_one_statement_join_that_cannot_be_had_writes_nothing(
    app: Quart, obstacle: str
) -> None:
    """The one-statement path has no transaction to roll back: the statement itself refuses
    (gamehub_refuse) when the joiner's wallet cannot pay the stake or their seat is taken, and
    nothing of it stays: no stake moved, no seat, no event, the room's seq unchanged."""
    runtime: Runtime = app.extensions[EXTENSION]
    client = app.test_client()
    host, guest = await register(client), await register(client)
    await fund(runtime, host["user"]["id"], 100_000)
    await fund(runtime, guest["user"]["id"], 500 if obstacle == "broke" else 100_000)
    opened = await client.post(
        "/games/join", json={"stake": 10}, headers=bearer(host["access_token"])
    )
    room_id = int((await opened.get_json())["room"]["id"])
    if obstacle == "seated elsewhere":
        elsewhere = await client.post(
            "/games/join", json={"stake": 11}, headers=bearer(guest["access_token"])
        )
        assert elsewhere.status_code == 200
    writes, moves = await _planned_join(runtime, room_id, guest["user"])
    before = await (await client.get("/wallet", headers=bearer(guest["access_token"]))).get_json()

    with pytest.raises(store_pg.Refused):
        await store_pg.save_guarded(runtime.pg, GAME, writes, None, moves, guest["user"]["id"])

    await _room_untouched(runtime, room_id, guest["user"]["id"], writes.room.seq)
    after = await (await client.get("/wallet", headers=bearer(guest["access_token"]))).get_json()
    assert after == before
    # Through the service the refusal is judged again, the transactional way, and explained.
    joined = await client.post(
        "/games/join", json={"stake": 10, "room_id": room_id}, headers=bearer(guest["access_token"])
    )
    code = (await error_of(joined))["code"]
    assert code == ("insufficient_funds" if obstacle == "broke" else "already_seated")


async def test_a_snapshot_comes_from_memory_only_while_it_is_the_latest(
    app: Quart, settings: Settings, backend: Any
) -> None:
    """Rooms.get answers from the actor's memory when the broker's last seq for the room is the
    one the actor committed; once another instance moves the room on, it reads the database."""
    if backend.name != "services":
        pytest.skip("two instances share a broker only on Redis (the services backend)")
    alice, bob, room_id = await _pair(app)
    tokens = {p["user"]["id"]: p["access_token"] for p in (alice, bob)}
    rooms: Rooms = app.extensions["gamehub_rooms"]
    runtime: Runtime = app.extensions[EXTENSION]
    stored = await _stored(runtime, room_id)
    assert await rooms.registry.latest(room_id) == stored  # the join's actor remembers it
    assert (await rooms.get(room_id)).render() == RoomView(stored[1], stored[0]).render()

    other = create_app(settings)
    async with other.test_app():
        shooter = stored[1].players[stored[1].turn_seat or 0].user_id
        pulled = await other.test_client().post(
            "/games/pull-trigger", json={"room_id": room_id}, headers=bearer(tokens[shooter])
        )
        assert pulled.status_code == 200, await pulled.get_data(as_text=True)
        seq = (await pulled.get_json())["room"]["seq"]
        assert await rooms.registry.latest(room_id) is None  # newer than this actor knows
        assert (await rooms.get(room_id)).seq == seq


@pytest.mark.parametrize("obstacle", ["broke", "seated elsewhere"])
async def test_an_opening_that_cannot_be_had_leaves_nothing(app: Quart, obstacle: str) -> None:
    """Opening a room is one statement (room, seat, stake, escrow, events): when the wallet
    cannot pay or the player already sits elsewhere, nothing of it stays, and the player is told
    why (by the transactional way, which then refuses too)."""
    runtime: Runtime = app.extensions[EXTENSION]
    client = app.test_client()
    player = await register(client)
    await fund(runtime, player["user"]["id"], 500 if obstacle == "broke" else 100_000)
    headers = bearer(player["access_token"])
    if obstacle == "seated elsewhere":
        assert (
            await client.post("/games/join", json={"stake": 11}, headers=headers)
        ).status_code == 200

    async def counts() -> tuple[int | None, ...]:
        async with runtime.sessions() as session:
            return tuple(
                [
                    await session.scalar(select(func.count()).select_from(table))
                    for table in (Multiplayer, RoomEvent, ActiveSeat, Account)
                ]
            )

    before = await counts()
    wallet = await (await client.get("/wallet", headers=headers)).get_json()
    refused = await client.post("/games/join", json={"stake": 10}, headers=headers)
    assert (await error_of(refused))["code"] == (
        "insufficient_funds" if obstacle == "broke" else "already_seated"
    )
    assert await counts() == before
    assert await (await client.get("/wallet", headers=headers)).get_json() == wallet
    assert await books_balance(runtime) == []


async def test_joiners_on_two_instances_at_one_stake_meet_in_one_room(
    app: Quart, settings: Settings
) -> None:
    """Two players join at the same stake at the same moment, each on another instance: each
    instance finds no waiting room and opens one, unless the opening looks again under the
    stake's lock (migration 0013); then one of them sits in the other's room. Twenty pairs,
    each at its own stake, all at once; every pair must meet."""
    import asyncio

    runtime: Runtime = app.extensions[EXTENSION]
    other = create_app(settings)
    async with other.test_app():
        instances = [app.test_client(), other.test_client()]
        pairs = []
        for _ in range(20):
            pair = []
            for _ in range(2):
                data = await register(instances[0])
                await fund(runtime, data["user"]["id"], 100_000)
                pair.append(data["access_token"])
            pairs.append(pair)

        async def join(instance: int, token: str, stake: int) -> int:
            joined = await instances[instance].post(
                "/games/join", json={"stake": stake}, headers=bearer(token)
            )
            assert joined.status_code == 200, await joined.get_data(as_text=True)
            return int((await joined.get_json())["room"]["id"])

        rooms = await asyncio.gather(
            *(
                asyncio.gather(join(0, first, 50 + i), join(1, second, 50 + i))
                for i, (first, second) in enumerate(pairs)
            )
        )
        assert all(a == b for a, b in rooms), rooms
        async with runtime.sessions() as session:
            waiting = await session.scalar(
                select(func.count()).select_from(Multiplayer).where(Multiplayer.status == "waiting")
            )
        assert waiting == 0
