"""Room operations behind the endpoints: join with matchmaking, bet, pull, leave, look."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from gamehub import fairness
from gamehub.auth.service import SessionRevoked
from gamehub.auth.tokens import AccessClaims
from gamehub.balances import Balance, player_balance
from gamehub.db import utcnow
from gamehub.errors import Conflict, NotFound
from gamehub.models import User
from gamehub.rooms import odds, roulette, store, store_pg
from gamehub.rooms.actor import Applied
from gamehub.rooms.registry import Registry
from gamehub.rooms.render import render_room


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
        return render_room(roulette.room_view(self.state), self.seq)


def _already_seated(room_id: int) -> Conflict:
    return Conflict(
        "You already sit in a waiting or playing room.",
        code="already_seated",
        details={"room_id": room_id},
    )


class Rooms:
    """The rooms service of one app: the registry of actors plus matchmaking."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._config: roulette.RouletteConfig | None = None
        self._game_id = 0
        # One matchmaking pass per stake at a time in this process, so that simultaneous
        # joiners pair up with each other instead of each opening a room of their own.
        self._matchmaking: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._room_ids = store_pg.RoomIds()

    async def config(self) -> roulette.RouletteConfig:
        if self._config is None:
            async with self.registry.sessions() as session:
                game = await store.game(session)
            self._config = store.config_from(game, self.registry.config_overrides)
            self._game_id = game.id
        return self._config

    async def join(
        self,
        user: User,
        stake: int,
        room_id: int | None,
        login: AccessClaims | None = None,
        scope: str | None = None,
    ) -> RoomView:
        """Sit `user` down. With `login` (a WebSocket, which checked its login once, when it
        opened) the command's own statements also check that the login is still live.
        `scope` names a keyed request across its retries: a retry finds the room whose stake
        an earlier attempt took and answers with it, however that room has gone on since."""
        if scope is not None:
            async with self.registry.readers() as session:
                joined = await store.room_joined_by(session, user.id, scope)
            if joined is not None:
                return await self.get(joined)
        config = await self.config()
        if not config.min_stake <= stake <= config.max_stake:
            raise roulette.StakeLimits(
                "The stake is outside the room limits.",
                min_stake=config.min_stake,
                max_stake=config.max_stake,
            )
        # No pre-check of the user's seat: taking it (a primary key) decides, in each attempt.
        async with self._matchmaking[stake]:
            async for candidate in self._candidate_rooms(stake, room_id):
                view = await self._try_join(candidate, user, stake, login, room_id, scope)
                if view is not None:
                    return view
            return await self._open(user, stake, config, login, scope)

    async def _candidate_rooms(self, stake: int, room_id: int | None) -> AsyncIterator[int]:
        """The room asked for, then the rooms this process knows to wait at this stake (no
        read), then, only if none of those took the player, those the database knows (other
        instances' too)."""
        tried: set[int] = set()
        if room_id is not None:
            tried.add(room_id)
            yield room_id
        for candidate in self.registry.rooms_with_a_free_seat(stake):
            if candidate not in tried:
                tried.add(candidate)
                yield candidate
        for candidate in await store_pg.candidate_rooms(self.registry.pg, stake):
            if candidate not in tried:
                tried.add(candidate)
                yield candidate

    async def _try_join(
        self,
        candidate: int,
        user: User,
        stake: int,
        login: AccessClaims | None,
        asked_for: int | None,
        scope: str | None,
    ) -> RoomView | None:
        """Join `candidate`; None if it cannot take this player: full or closed (then the next
        candidate), another stake or no such room (told only about the room they asked for)."""
        try:
            applied = await self.registry.send(candidate, self._join(user, stake), login, scope)
        except (roulette.RoomFull, roulette.RoomClosed):
            return None
        except (roulette.StakeMismatch, NotFound):
            if candidate == asked_for:
                raise
            return None
        return RoomView(applied.state, applied.seq)

    @staticmethod
    def _join_command(user: User, stake: int, now: datetime) -> roulette.Join:
        """The first join of a room the player opens (the match's seed is drawn at the second)."""
        return roulette.Join(
            user_id=user.id,
            username=user.username,
            client_seed=user.client_seed,
            stake=stake,
            now=now,
        )

    def _join(self, user: User, stake: int) -> Any:
        async def prepare(
            tx: store.RoomTx, _room: store.RoomRow, state: roulette.RoomState
        ) -> roulette.Command:
            if not await tx.take_seat(state.room_id, user.id, utcnow()):
                raise _already_seated(await tx.seated_room(user.id) or 0)
            return roulette.Join(
                user_id=user.id,
                username=user.username,
                client_seed=user.client_seed,
                stake=stake,
                now=utcnow(),
                server_seed=fairness.new_server_seed(),
            )

        return prepare

    async def _open(
        self,
        user: User,
        stake: int,
        config: roulette.RouletteConfig,
        login: AccessClaims | None,
        scope: str | None,
    ) -> RoomView:
        opened = await self._open_alone(user, stake, config, login, scope)
        if opened is not None:
            return opened
        now = utcnow()
        async with self.registry.transaction() as tx:
            if login is not None and not await tx.login_live(login.user_id, login.family_id):
                raise SessionRevoked()
            room, state = await tx.open_room(self._game_id, stake, config, now)
            if not await tx.take_seat(room.id, user.id, now):
                raise _already_seated(await tx.seated_room(user.id) or 0)
            transition = roulette.apply(state, self._join_command(user, stake, now))
            writes = store.plan(room, state, transition, now, scope)
            saved = await tx.write(writes)
        return await self._opened(writes, transition, saved)

    async def _open_alone(
        self,
        user: User,
        stake: int,
        config: roulette.RouletteConfig,
        login: AccessClaims | None,
        scope: str | None,
    ) -> RoomView | None:
        """The room opened and `user` seated by one statement (store_pg.open_and_join).
        None: it was refused (the wallet cannot pay, or the player sits elsewhere) or the
        wallet's account is not open yet; nothing was written, and the transactional way opens
        the room or explains why not."""
        pool = self.registry.pg
        room_id = await self._room_ids.take(pool)
        now = utcnow()
        state = roulette.new_room(room_id, stake, now, config)
        room = store.RoomRow(room_id, self._game_id, 0, None, None)
        transition = roulette.apply(state, self._join_command(user, stake, now))
        writes = store.plan(room, state, transition, now, scope)
        escrow = store.escrow_code(room_id)

        async def resolve(code: str, kind: str | None, user_id: int | None) -> int:
            # The escrow is opened by the statement itself: 0 stands in for its id.
            if code == escrow:
                return 0
            return await self.registry.existing_account(code, kind, user_id)

        try:
            moves, touched = await store.transfer_specs(room_id, writes.postings, resolve)
        except store.AccountNotOpen:
            return None
        if len(moves) != 1 or moves[0].credit != 0 or writes.match_values is not None:
            return None  # not a first join's shape: its stake from the wallet to the escrow
        try:
            escrow_id, live = await store_pg.open_and_join(pool, writes, moves[0], user.id, login)
        except store_pg.Refused:
            return None
        if not live:
            raise SessionRevoked()  # nothing was written
        assert escrow_id is not None
        self.registry.accounts.remember(escrow, escrow_id)  # committed: it exists
        return await self._opened(
            writes, transition, store.Saved(writes.events, touched, writes.seq)
        )

    async def _opened(
        self, writes: store.Writes, transition: roulette.Transition, saved: store.Saved
    ) -> RoomView:
        """After either way of opening committed: publish, and hand the room to its actor."""
        room_id = writes.room.id
        await self.registry.after_commit(room_id, transition, saved, saved.seq)
        self.registry.actor(room_id).opened(writes.room_after(), transition.state)
        return RoomView(transition.state, saved.seq)

    async def place_bet(
        self,
        user: User,
        room_id: int,
        bet_type: str,
        amount: int,
        login: AccessClaims | None = None,
        scope: str | None = None,
    ) -> tuple[PlacedBet, Balance]:
        """The bet as placed, and the bettor's balance after it. `scope` names a keyed request
        across its retries: a retry finds the bet an earlier attempt placed and answers with
        it instead of betting again."""
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
        async def prepare(
            tx: store.RoomTx, room: store.RoomRow, _state: roulette.RoomState
        ) -> roulette.Command:
            bet_id = await tx.new_side_bet(room, user_id, bet_type, amount, utcnow(), scope)
            return roulette.PlaceBet(
                bet_id=bet_id,
                user_id=user_id,
                bet_type=bet_type,  # type: ignore[arg-type]  # validated by the request schema
                amount=amount,
                now=utcnow(),
            )

        applied = await self.registry.send(room_id, prepare, login)
        bet = next(e for e in applied.transition.events if isinstance(e, roulette.BetPlaced))
        return PlacedBet(bet.bet_id, bet.bet_type, bet.pull_number, bet.odds, bet.potential_payout)

    async def _bet_made_by(self, user_id: int, scope: str) -> PlacedBet | None:
        """The side bet an earlier attempt of this keyed request placed, priced as it was."""
        async with self.registry.readers() as session:
            row = await store.side_bet_made_by(session, user_id, scope)
        if row is None:
            return None
        bet_id, bet_type, amount, pull_number = row
        chambers_left = odds.chambers_left_before(pull_number)
        edge = (await self.config()).side_bet_edge_percent
        return PlacedBet(
            bet_id,
            bet_type,
            pull_number,
            odds.odds(bet_type, chambers_left, edge),
            odds.payout(amount, bet_type, chambers_left, edge),
        )

    async def pull(
        self, user_id: int, room_id: int, sent_at: datetime, login: AccessClaims | None = None
    ) -> Applied:
        """A pull; with `login` (the HTTP route checked only the token) the command's own
        statement also checks that the login is still live."""

        async def prepare(
            _tx: store.RoomTx, _room: store.RoomRow, state: roulette.RoomState
        ) -> roulette.Command:
            # A pull is judged against the turn as it was when the player sent it: if both
            # players pull at the same instant, the one whose turn it was wins, and the other's
            # pull does not become valid just because it was queued behind a click.
            if state.status == "playing" and state.turn_deadline is not None:
                turn_began = state.turn_deadline - timedelta(seconds=state.config.turn_timeout_s)
                if sent_at < turn_began:
                    raise roulette.NotYourTurn("It was not your turn when you pulled.")
            return roulette.Pull(user_id=user_id, now=utcnow())

        return await self.registry.send(room_id, prepare, login)

    async def leave(self, user: User, room_id: int, login: AccessClaims | None = None) -> Applied:
        async def prepare(
            _tx: store.RoomTx, _room: store.RoomRow, _state: roulette.RoomState
        ) -> roulette.Command:
            return roulette.Leave(user_id=user.id, now=utcnow())

        return await self.registry.send(room_id, prepare, login)

    async def get(self, room_id: int) -> RoomView:
        """The room's current snapshot: from its actor's memory when that is provably the last
        state published, else from the database."""
        latest = await self.registry.latest(room_id)
        if latest is not None:
            return RoomView(latest[1], latest[0])
        found = await store_pg.snapshot(self.registry.pg, room_id)
        if found is None:
            raise NotFound("No such room.", code="room_not_found")
        return RoomView(found[1], found[0])

    async def list(self, status: str | None) -> list[RoomView]:
        async with self.registry.readers() as session:
            rows = await store.list_rooms(session, status)
        return [RoomView(roulette.from_dict(state), seq) for seq, state in rows]
