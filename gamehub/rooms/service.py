"""Russian Roulette's rooms behind the endpoints: join with matchmaking, bet, pull, leave, look."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gamehub import fairness
from gamehub.auth.tokens import AccessClaims
from gamehub.balances import Balance, player_balance
from gamehub.db import utcnow
from gamehub.errors import Conflict, NotFound
from gamehub.models import Game, User
from gamehub.rooms import odds, roulette, store, store_pg
from gamehub.rooms.actor import Applied, Message
from gamehub.rooms.registry import Registry
from gamehub.rooms.roulette_game import GAME
from gamehub.taxes import TaxRate, format_rates

# Each pass finds the room another instance opened at this stake in the moment before, or a
# room that filled up meanwhile: more passes than this means a storm of joiners at one stake.
MATCHMAKING_PASSES = 10


@dataclass(frozen=True)
class PlacedBet:
    """A side bet as its bettor is told of it (potential_payout in cents)."""

    bet_id: int
    bet_type: str
    pull_number: int
    odds: str
    potential_payout: int


@dataclass(frozen=True)
class RoomView:
    state: roulette.RoomState
    seq: int

    def render(self) -> dict[str, Any]:
        return GAME.render(self.state, self.seq)


async def _catalogue_row(session: AsyncSession) -> Game:
    found = await session.scalar(select(Game).where(Game.slug == GAME.slug))
    if found is None:
        raise LookupError("the games catalogue has no russian-roulette row; run migrations")
    return found


def _config_from(
    game_row: Game, overrides: dict[str, int], winnings_tax: str = ""
) -> roulette.RouletteConfig:
    """The room terms: the catalogue's, timeouts overridable by settings, the winnings tax."""
    rules = game_row.rules or {}
    values: dict[str, int] = {
        "min_stake": game_row.min_bet,
        "max_stake": game_row.max_bet,
        "min_side_bet": int(rules.get("side_bet_min", 1000)),
        "max_side_bet": int(rules.get("side_bet_max", 1_000_000)),
        "rake_percent": int(rules.get("rake_percent", 5)),
        "side_bet_edge_percent": int(rules.get("side_bet_edge_percent", 5)),
        "turn_timeout_s": int(rules.get("turn_timeout_s", 20)),
        "waiting_timeout_s": int(rules.get("waiting_timeout_s", 120)),
    }
    values.update(overrides)
    return roulette.RouletteConfig(**values, winnings_tax=winnings_tax)


class Rooms:
    """The rooms service of one app: the registry of actors plus matchmaking."""

    def __init__(self, registry: Registry, winnings_tax: tuple[TaxRate, ...] = ()) -> None:
        self.registry = registry
        # In the terms of rooms opened from now on; a payout is taxed at the rate then in force.
        self._winnings_tax = format_rates(winnings_tax)
        self._config: roulette.RouletteConfig | None = None
        self._game_id = 0
        # One matchmaking pass per stake at a time, so simultaneous joiners pair up.
        self._matchmaking: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._bet_ids = store_pg.SequenceIds("bet_history")

    async def config(self) -> roulette.RouletteConfig:
        if self._config is None:
            async with self.registry.sessions() as session:
                game = await _catalogue_row(session)
            self._config = _config_from(game, self.registry.config_overrides, self._winnings_tax)
            self._game_id = game.id
        return self._config

    async def seat(
        self,
        user: User,
        stake: int,
        room_id: int | None,
        login: AccessClaims | None = None,
        scope: str | None = None,
    ) -> RoomView:
        """Seat `user` at `stake`: in the room asked for, a waiting one, or a new one; the
        message's statement checks `login` if given. A retry of the keyed request `scope` is
        answered with the room whose stake an earlier attempt took."""
        if scope is not None:
            async with self.registry.readers() as session:
                earlier = await store.bet_made_by(session, user.id, scope)
            if earlier is not None and earlier.bet_type == "stake" and earlier.room_id is not None:
                return await self.get(earlier.room_id)
        config = await self.config()
        if not config.min_stake <= stake <= config.max_stake:
            raise roulette.StakeLimits(
                "The stake is outside the room limits.",
                min_stake=config.min_stake,
                max_stake=config.max_stake,
            )
        joiner = roulette.Join(
            user_id=user.id,
            username=user.username,
            client_seed=user.client_seed,
            stake=stake,
            now=utcnow(),  # the runtime's clock replaces it
            server_seed=fairness.new_server_seed(),  # used if this join starts the match
        )
        # No pre-check of the user's seat: taking it (a primary key) decides, in each attempt.
        async with self._matchmaking[stake]:
            message = Message("join", joiner, user.id, login, scope)
            for _ in range(MATCHMAKING_PASSES):
                async for candidate in self._candidate_rooms(stake, room_id):
                    view = await self._seat_in(candidate, message, room_id)
                    if view is not None:
                        return view
                try:
                    applied = await self.registry.open_seated(
                        self._game_id, stake, config, joiner, user.id, login, scope
                    )
                except store_pg.SomeoneWaiting:
                    # Another instance opened one a moment ago: the next pass finds it.
                    continue
                return RoomView(applied.state, applied.seq)
        raise Conflict(
            "Too many players are joining at this stake; try again.", code="matchmaking_busy"
        )

    async def _candidate_rooms(self, stake: int, room_id: int | None) -> AsyncIterator[int]:
        """The room asked for, then those this process knows to wait at this stake, then (only
        if none took the player) those the database knows."""
        tried: set[int] = set()
        if room_id is not None:
            tried.add(room_id)
            yield room_id
        for candidate in self.registry.rooms_with_a_free_seat(stake):
            if candidate not in tried:
                tried.add(candidate)
                yield candidate
        for candidate in await store_pg.candidate_rooms(self.registry.pg, self._game_id, stake):
            if candidate not in tried:
                tried.add(candidate)
                yield candidate

    async def _seat_in(
        self, candidate: int, message: Message, asked_for: int | None
    ) -> RoomView | None:
        """Seat the joiner in `candidate`; None if it cannot take them (another stake or no
        such room is told only about the room they asked for)."""
        try:
            applied = await self.registry.send(candidate, message)
        except (roulette.RoomFull, roulette.RoomClosed):
            return None
        except (roulette.StakeMismatch, NotFound):
            if candidate == asked_for:
                raise
            return None
        return RoomView(applied.state, applied.seq)

    async def place_bet(
        self,
        user: User,
        room_id: int,
        bet_type: str,
        amount: int,
        login: AccessClaims | None = None,
        scope: str | None = None,
    ) -> tuple[PlacedBet, Balance]:
        """The bet as placed, and the bettor's balance after it; a retry of the keyed request
        `scope` is answered with the bet an earlier attempt placed."""
        placed = None if scope is None else await self._bet_made_by(user.id, scope)
        if placed is None:
            placed = await self._place(user.id, room_id, bet_type, amount, login, scope)
        async with self.registry.readers() as session:
            return placed, await player_balance(session, user.id)

    async def _place(
        self,
        user_id: int,
        room_id: int,
        bet_type: str,
        amount: int,
        login: AccessClaims | None,
        scope: str | None,
    ) -> PlacedBet:
        bet = roulette.PlaceBet(
            bet_id=await self._bet_ids.take(self.registry.pg),  # its row is written with it
            user_id=user_id,
            bet_type=bet_type,  # type: ignore[arg-type]  # validated by the request schema
            amount=amount,
            now=utcnow(),  # the runtime's clock replaces it
        )
        message = Message("command", bet, login=login, request_ref=scope)
        applied = await self.registry.send(room_id, message)
        placed = next(e for e in applied.transition.events if isinstance(e, roulette.BetPlaced))
        return PlacedBet(
            placed.bet_id, placed.bet_type, placed.pull_number, placed.odds, placed.potential_payout
        )

    async def _bet_made_by(self, user_id: int, scope: str) -> PlacedBet | None:
        """The side bet an earlier attempt of this keyed request placed, priced as it was."""
        async with self.registry.readers() as session:
            row = await store.bet_made_by(session, user_id, scope)
        if row is None or row.bet_type not in odds.BET_TYPES or row.pull_number is None:
            return None
        bet_type = row.bet_type
        chambers_left = odds.chambers_left_before(row.pull_number)
        edge = (await self.config()).side_bet_edge_percent
        return PlacedBet(
            row.id,
            bet_type,
            row.pull_number,
            odds.odds(bet_type, chambers_left, edge),
            odds.payout(row.bet_amount, bet_type, chambers_left, edge),
        )

    async def pull(
        self, user_id: int, room_id: int, sent_at: datetime, login: AccessClaims | None = None
    ) -> Applied:
        """A pull, judged against the turn as it was when the player sent it (`sent_at`)."""
        pull = roulette.Pull(user_id=user_id, now=sent_at, sent_at=sent_at)
        return await self.registry.send(room_id, Message("command", pull, login=login))

    async def leave(self, user: User, room_id: int, login: AccessClaims | None = None) -> Applied:
        return await self.registry.send(room_id, Message("leave", user_id=user.id, login=login))

    async def get(self, room_id: int) -> RoomView:
        """The room's snapshot: from its actor's memory when provably the latest, else read."""
        latest = await self.registry.latest(room_id)
        if latest is not None:
            return RoomView(latest[1], latest[0])
        found = await store_pg.snapshot(self.registry.pg, room_id)
        if found is None:
            raise NotFound("No such room.", code="room_not_found")
        return RoomView(GAME.load(found[1]), found[0])

    async def list(self, status: str | None) -> list[RoomView]:
        await self.config()  # the game's id
        async with self.registry.readers() as session:
            rows = await store.list_rooms(session, self._game_id, status)
        return [RoomView(GAME.load(state), seq) for seq, state in rows]
