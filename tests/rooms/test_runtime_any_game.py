"""The room runtime knows no game: a second game, a coin toss between two players written only
against rooms/game.py, runs on it on PostgreSQL beside Russian Roulette — a room opened and its
first player seated in one statement, the second seated by the actor's seq-guarded statement,
refusals judged again in a transaction, money through the ledger, events published."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, NamedTuple

import pytest
from sqlalchemy import select

from gamehub.errors import Conflict
from gamehub.models import ActiveSeat, Game, RoomEvent, Transfer
from gamehub.rooms import store, store_pg
from gamehub.rooms.actor import Message
from gamehub.rooms.game import GameRows, RuleError
from gamehub.rooms.registry import Registry
from gamehub.runtime import Runtime
from tests.funding import books_balance, fund
from tests.helpers import register

ROUTES = {"stake": ("wallet", "escrow"), "payout": ("escrow", "wallet")}
NO_ROWS: dict[str, str] = {}


@dataclass(frozen=True)
class Coin:
    room_id: int
    stake: int
    players: tuple[int, ...] = ()
    status: str = "waiting"
    winner: int | None = None


@dataclass(frozen=True)
class Posting:
    kind: str
    user_id: int | None
    amount: int
    reference: str

    @property
    def source(self) -> str:
        return ROUTES[self.kind][0]

    @property
    def destination(self) -> str:
        return ROUTES[self.kind][1]


@dataclass(frozen=True)
class Event:
    type: str
    body: dict[str, Any]

    def payload(self) -> dict[str, Any]:
        return self.body


class Step(NamedTuple):
    state: Coin
    events: tuple[Event, ...]
    postings: tuple[Posting, ...]


@dataclass(frozen=True)
class Toss:
    """A player tosses; the test decides the side (the rules are pure)."""

    user_id: int
    winner_seat: int


class NotPlaying(RuleError):
    code = "not_playing"


class CoinToss:
    slug = "coin-toss"
    kind_prefix = "coin"
    save_parts = NO_ROWS  # its state is all it keeps
    open_parts = NO_ROWS

    def init(self, room_id: int, stake: int, now: datetime, config: Any) -> Coin:
        return Coin(room_id, stake)

    def join(self, state: Coin, joiner: int, now: datetime) -> Step:
        if state.status != "waiting":
            raise NotPlaying("The toss has begun.")
        players = (*state.players, joiner)
        stake = Posting("stake", joiner, state.stake, f"coin:{state.room_id}:stake:{joiner}")
        status = "playing" if len(players) == 2 else "waiting"
        joined = Event("joined", {"user_id": joiner, "stake": state.stake})
        return Step(replace(state, players=players, status=status), (joined,), (stake,))

    def command(self, state: Coin, command: Toss, now: datetime) -> Step:
        if state.status != "playing" or command.user_id not in state.players:
            raise NotPlaying("No toss for you.")
        winner = state.players[command.winner_seat]
        pot = state.stake * 2
        payout = Posting("payout", winner, pot, f"coin:{state.room_id}:payout")
        won = Event("won", {"user_id": winner, "payout": pot})
        return Step(replace(state, status="finished", winner=winner), (won,), (payout,))

    def timer(self, state: Coin, now: datetime) -> Step:
        return Step(state, (), ())

    def leave(self, state: Coin, user_id: int, now: datetime) -> Step:
        raise NotPlaying("No leaving a coin toss.")

    def deadline(self, state: Coin) -> datetime | None:
        return None

    def status(self, state: Coin) -> str:
        return state.status

    def is_closed(self, state: Coin) -> bool:
        return state.status == "finished"

    def seated(self, state: Coin) -> tuple[int, ...]:
        return state.players

    def free_seat_at(self, state: Coin) -> int | None:
        return state.stake if state.status == "waiting" else None

    def load(self, data: dict[str, Any]) -> Coin:
        return Coin(**{**data, "players": tuple(data["players"])})

    def dump(self, state: Coin) -> dict[str, Any]:
        return {**state.__dict__, "players": list(state.players)}

    def rows(self, before: Coin, transition: Step, now: datetime, ref: str | None) -> GameRows:
        return GameRows(frozenset(), {})

    def render(self, state: Coin, seq: int) -> dict[str, Any]:
        return {**self.dump(state), "seq": seq}

    def wallets(self, transition: Step) -> set[int]:
        return {posting.user_id for posting in transition.postings if posting.user_id}

    def told(self, transition: Step) -> frozenset[int] | None:
        return frozenset(transition.state.players)


async def test_a_second_game_runs_on_the_room_runtime(runtime: Runtime, client: Any) -> None:
    alice, bob, outsider = [(await register(client))["user"]["id"] for _ in range(3)]
    for player in (alice, bob):
        await fund(runtime, player, 10_000)
    async with runtime.sessions() as session, session.begin():
        game = Game(slug="coin-toss", name="Coin", kind="multiplayer", min_bet=1, max_bet=10**6)
        session.add(game)
        await session.flush()
        game_id = game.id
    registry = Registry(runtime.sessions, runtime.broker, runtime.pg, game=CoinToss())
    try:
        opened = await registry.open_seated(game_id, 1_000, None, alice, alice)
        room_id = opened.state.room_id
        assert (opened.seq, opened.state.players) == (1, (alice,))
        assert registry.rooms_with_a_free_seat(1_000) == [room_id]  # matchmaking hears of it
        # One seat per user, whatever the game: the statement refuses, the transaction says why
        # (at another stake: at this one a room waits with a free seat, which a new room's
        # opening defers to, store_pg.SomeoneWaiting).
        with pytest.raises(store_pg.SomeoneWaiting):
            await registry.open_seated(game_id, 1_000, None, alice, alice)
        with pytest.raises(Conflict) as seated:
            await registry.open_seated(game_id, 2_000, None, alice, alice)
        assert seated.value.details == {"room_id": room_id}

        joined = await registry.send(room_id, Message("join", bob, bob))
        assert (joined.seq, joined.state.status) == (2, "playing")
        with pytest.raises(NotPlaying):
            await registry.send(room_id, Message("command", Toss(outsider, 0)))
        won = await registry.send(room_id, Message("command", Toss(bob, 1)))
        assert (won.seq, won.state.winner) == (3, bob)
    finally:
        await registry.stop()

    assert await runtime.broker.last_seq(store.channel(room_id)) == 3
    async with runtime.sessions() as session:
        events = list(
            await session.scalars(
                select(RoomEvent.type).where(RoomEvent.room_id == room_id).order_by(RoomEvent.seq)
            )
        )
        coin = select(Transfer.kind).where(Transfer.kind.like("coin_%"))
        kinds = sorted(await session.scalars(coin))
        seats = list(await session.scalars(select(ActiveSeat.user_id)))
    assert events == ["joined", "joined", "won"]
    assert kinds == ["coin_payout", "coin_stake", "coin_stake"]
    assert seats == []  # freed when the room closed
    assert await books_balance(runtime) == []  # the escrow is empty, the ledger balances
