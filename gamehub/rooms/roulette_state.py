"""A Russian Roulette room's state, its persisted form (`to_dict` / `from_dict`) and its public
view (`room_view`, without the secrets until the contract allows them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, NamedTuple, cast

from gamehub.rooms.odds import CHAMBERS, BetType
from gamehub.rooms.roulette_errors import StakeLimits
from gamehub.rooms.roulette_types import RouletteConfig, Status, as_utc, flat_dict

STATE_VERSION = 1


@dataclass(frozen=True)
class Player:
    """Who sits in a seat (the seat is the index in `RoomState.players`)."""

    user_id: int
    username: str
    client_seed: str
    alive: bool = True


@dataclass(frozen=True)
class SideBet:
    """A side bet held in escrow until its pull (`pull_number`) settles it."""

    bet_id: int
    user_id: int
    bet_type: BetType
    amount: int
    pull_number: int
    odds: str
    potential_payout: int


@dataclass(frozen=True)
class RoomState:
    """Everything the rules need to decide the next command; immutable. `escrow` is what the
    room's escrow account must hold: stakes and unsettled side bets while open, then zero."""

    room_id: int
    stake: int
    config: RouletteConfig
    status: Status = "waiting"
    players: tuple[Player, ...] = ()
    waiting_deadline: datetime | None = None
    server_seed: str | None = None  # secret until the match ends
    server_seed_hash: str | None = None
    client_seed: str | None = None
    bullet: int | None = None  # secret: the chamber (0-5) that fires
    first_shooter_seat: int | None = None
    turn_seat: int | None = None
    pull_number: int = 0  # pulls made so far
    turn_deadline: datetime | None = None
    winner_seat: int | None = None
    pending_bets: tuple[SideBet, ...] = ()
    escrow: int = 0

    @property
    def is_closed(self) -> bool:
        return self.status in ("finished", "cancelled")

    def escrow_shares(self) -> dict[int, int]:
        """Whose money `escrow` holds, by user (part of each one's balance: balances.py)."""
        shares: dict[int, int] = {}
        if not self.is_closed:
            for player in self.players:
                shares[player.user_id] = self.stake
        for bet in self.pending_bets:
            shares[bet.user_id] = shares.get(bet.user_id, 0) + bet.amount
        return shares

    def seat_of(self, user_id: int) -> int | None:
        for seat, player in enumerate(self.players):
            if player.user_id == user_id:
                return seat
        return None


def new_room(
    room_id: int, stake: int, now: datetime, config: RouletteConfig | None = None
) -> RoomState:
    """An empty waiting room; its waiting timer runs from `now` (the first join restarts it)."""
    config = config or RouletteConfig()
    now = as_utc(now)
    if not config.min_stake <= stake <= config.max_stake:
        raise StakeLimits(
            "The stake is outside the room limits.",
            min_stake=config.min_stake,
            max_stake=config.max_stake,
        )
    return RoomState(
        room_id=room_id,
        stake=stake,
        config=config,
        waiting_deadline=now + timedelta(seconds=config.waiting_timeout_s),
    )


class Deadline(NamedTuple):
    """The room's next deadline: at `at`, a TurnTimeout or a WaitingTimeout is due."""

    kind: Literal["turn", "waiting"]
    at: datetime


def next_deadline(state: RoomState) -> Deadline | None:
    if state.status == "playing" and state.turn_deadline is not None:
        return Deadline("turn", state.turn_deadline)
    if state.status == "waiting" and state.waiting_deadline is not None:
        return Deadline("waiting", state.waiting_deadline)
    return None


def room_view(state: RoomState) -> dict[str, Any]:
    """The contract's room object (cents, datetimes as datetime; render_room adds seq)."""
    playing = state.status == "playing"
    finished = state.status == "finished"
    turn_user_id = (
        state.players[state.turn_seat].user_id if playing and state.turn_seat is not None else None
    )
    winner_user_id = (
        state.players[state.winner_seat].user_id if state.winner_seat is not None else None
    )
    return {
        "id": state.room_id,
        "status": state.status,
        "stake": state.stake,
        # A cancelled room has refunded every stake; a finished one shows the pot it was played for.
        "pot": 0 if state.status == "cancelled" else state.stake * len(state.players),
        "players": [
            {"user_id": p.user_id, "username": p.username, "seat": seat, "alive": p.alive}
            for seat, p in enumerate(state.players)
        ],
        "turn_user_id": turn_user_id,
        "pull_number": state.pull_number,
        "chambers_left": CHAMBERS - state.pull_number,
        "turn_deadline": state.turn_deadline if playing else None,
        "winner_user_id": winner_user_id,
        "fairness": {
            "server_seed_hash": state.server_seed_hash,
            "server_seed": state.server_seed if finished else None,
            "client_seed": state.client_seed,
            "nonce": state.room_id,
        },
    }


# --- Persistence. The dict holds the secret seed and bullet: store it, never show it.


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _moment(text: Any) -> datetime | None:
    return None if text is None else datetime.fromisoformat(cast(str, text))


def to_dict(state: RoomState) -> dict[str, Any]:
    """A JSON-compatible dict from which `from_dict` rebuilds an equal state."""
    return {
        "version": STATE_VERSION,
        "room_id": state.room_id,
        "stake": state.stake,
        "config": flat_dict(state.config),
        "status": state.status,
        "players": [flat_dict(player) for player in state.players],
        "waiting_deadline": _iso(state.waiting_deadline),
        "server_seed": state.server_seed,
        "server_seed_hash": state.server_seed_hash,
        "client_seed": state.client_seed,
        "bullet": state.bullet,
        "first_shooter_seat": state.first_shooter_seat,
        "turn_seat": state.turn_seat,
        "pull_number": state.pull_number,
        "turn_deadline": _iso(state.turn_deadline),
        "winner_seat": state.winner_seat,
        "pending_bets": [flat_dict(bet) for bet in state.pending_bets],
        "escrow": state.escrow,
    }


def from_dict(data: dict[str, Any]) -> RoomState:
    if data.get("version") != STATE_VERSION:
        raise ValueError(f"unknown room state version {data.get('version')!r}")
    return RoomState(
        room_id=data["room_id"],
        stake=data["stake"],
        config=RouletteConfig(**data["config"]),
        status=data["status"],
        players=tuple(Player(**player) for player in data["players"]),
        waiting_deadline=_moment(data["waiting_deadline"]),
        server_seed=data["server_seed"],
        server_seed_hash=data["server_seed_hash"],
        client_seed=data["client_seed"],
        bullet=data["bullet"],
        first_shooter_seat=data["first_shooter_seat"],
        turn_seat=data["turn_seat"],
        pull_number=data["pull_number"],
        turn_deadline=_moment(data["turn_deadline"]),
        winner_seat=data["winner_seat"],
        pending_bets=tuple(SideBet(**bet) for bet in data["pending_bets"]),
        escrow=data["escrow"],
    )
