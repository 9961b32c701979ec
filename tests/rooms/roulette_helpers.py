"""Shared helpers for the roulette rule tests: seeds that give a chosen draw, the money ledger
implied by postings, and a room driven to a given point of play."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache

from gamehub.fairness import roulette_client_seed, roulette_draw
from gamehub.rooms.roulette import (
    Command,
    Event,
    Join,
    Posting,
    RoomState,
    RouletteConfig,
    Transition,
    apply,
    new_room,
)

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
ROOM_ID = 7
STAKE = 5_000
ALICE, BOB, CAROL = 1, 2, 3  # two players and a spectator
SEEDS = {ALICE: "alice-seed", BOB: "bob-seed", CAROL: "carol-seed"}
NAMES = {ALICE: "alice", BOB: "bob", CAROL: "carol"}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@cache
def seed_for(bullet: int, first_seat: int, room_id: int = ROOM_ID) -> str:
    """The first server seed of the form 00…0<i> that draws this bullet and first shooter seat
    for alice (seat 0) and bob (seat 1) in room `room_id`."""
    client_seed = roulette_client_seed(SEEDS[ALICE], SEEDS[BOB])
    for i in range(10_000):
        seed = f"{i:064x}"
        draw = roulette_draw(seed, client_seed, room_id)
        if (draw.bullet, draw.first_shooter_seat) == (bullet, first_seat):
            return seed
    raise AssertionError(f"no seed below 10000 draws bullet {bullet}, seat {first_seat}")


def join(user_id: int, now: datetime, *, seed: str | None = None, stake: int = STAKE) -> Join:
    return Join(user_id, NAMES[user_id], SEEDS[user_id], stake, now, server_seed=seed)


@dataclass
class Game:
    """A room driven step by step, keeping every event and posting it produced."""

    state: RoomState
    events: list[Event] = field(default_factory=list)
    postings: list[Posting] = field(default_factory=list)

    def do(self, command: Command) -> Transition:
        result = apply(self.state, command)
        self.state = result.state
        self.events.extend(result.events)
        self.postings.extend(result.postings)
        return result


def waiting_game(config: RouletteConfig | None = None, stake: int = STAKE) -> Game:
    game = Game(new_room(ROOM_ID, stake, T0, config))
    game.do(join(ALICE, T0, stake=stake))
    return game


def playing_game(
    bullet: int, first_seat: int = 0, config: RouletteConfig | None = None, stake: int = STAKE
) -> Game:
    game = waiting_game(config, stake)
    game.do(join(BOB, at(1), seed=seed_for(bullet, first_seat), stake=stake))
    return game


def types(events: Iterable[Event]) -> list[str]:
    return [event.type for event in events]


def totals(postings: Iterable[Posting]) -> dict[str, int]:
    """Cents moved per posting kind."""
    sums: dict[str, int] = {}
    for posting in postings:
        sums[posting.kind] = sums.get(posting.kind, 0) + posting.amount
    return sums


def escrow_balance(postings: Iterable[Posting]) -> int:
    return sum(posting.escrow_delta() for posting in postings)


def house_gain(postings: Iterable[Posting]) -> int:
    t = totals(postings)
    return t.get("rake", 0) + t.get("house_win", 0) - t.get("house_cover", 0)


def money_in(postings: Iterable[Posting]) -> int:
    return sum(p.amount for p in postings if p.source == "wallet")


def money_out(postings: Iterable[Posting]) -> int:
    return sum(p.amount for p in postings if p.destination == "wallet")
