"""Rooms in the database: opening, locking and saving a room, its events, seats, bet history and
the ledger postings of each command. Used inside the actor's one transaction per command."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gamehub import ledger
from gamehub.auth.service import live_login
from gamehub.db import iso_utc
from gamehub.models import (
    Account,
    ActiveSeat,
    BetHistory,
    Game,
    GameSession,
    Multiplayer,
    RoomEvent,
    RussianRoulette,
)
from gamehub.rooms import roulette
from gamehub.rooms.broker import Event, encode
from gamehub.rooms.odds import BET_TYPES, BetType
from gamehub.rooms.render import render

GAME_SLUG = "russian-roulette"
OPEN = ("waiting", "playing")


ESCROW_PREFIX = "escrow:room:"


def escrow_code(room_id: int) -> str:
    return f"{ESCROW_PREFIX}{room_id}"


def channel(room_id: int) -> str:
    return f"room:{room_id}"


class AccountIds:
    """Ledger account ids by code, remembered per app: accounts are never deleted or renumbered,
    so room commands skip their lookups. Only an id that existed before the current transaction
    is remembered: one opened by it would vanish if it rolled back."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}

    async def get(
        self,
        code: str,
        find: Callable[[], Awaitable[int | None]],
        open_: Callable[[], Awaitable[int]],
    ) -> int:
        found = await self.find(code, find)
        return found if found is not None else await open_()

    async def find(self, code: str, find: Callable[[], Awaitable[int | None]]) -> int | None:
        """The id, remembered or found (and then remembered); None if not open yet."""
        found = self._ids.get(code)
        if found is None:
            found = await find()
            if found is not None:
                self._ids[code] = found
        return found

    def remember(self, code: str, account: int) -> None:
        """An account opened by a transaction that has committed."""
        self._ids[code] = account


class AccountNotOpen(Exception):
    """A ledger account a one-statement write needs is not open yet: the transactional way
    opens it (where a rollback takes it away again)."""


Resolve = Callable[[str, str | None, int | None], Awaitable[int]]


async def transfer_specs(
    room_id: int, postings: tuple[roulette.Posting, ...], resolve: Resolve
) -> tuple[list[ledger.TransferSpec], set[int]]:
    """The ledger transfers of a transition's postings, and the wallets (user ids) they touch;
    `resolve(code, kind, user_id)` gives an account's id."""
    touched: set[int] = set()
    moves: list[ledger.TransferSpec] = []
    for posting in postings:
        parties: dict[str, int] = {"escrow": await resolve(escrow_code(room_id), "escrow", None)}
        if "house" in (posting.source, posting.destination):
            # Rooms spread over the house's sub-accounts, as players do for spins.
            parties["house"] = await resolve(ledger.house_shard(room_id), "house", None)
        if posting.user_id is not None:
            parties["wallet"] = await resolve(
                ledger.wallet_code(posting.user_id), "wallet", posting.user_id
            )
            touched.add(posting.user_id)
        moves.append(
            ledger.TransferSpec(
                reference=posting.reference,
                kind=f"roulette_{posting.kind}",
                debit=parties[posting.source],
                credit=parties[posting.destination],
                amount=posting.amount,
            )
        )
    return moves, touched


@dataclass(frozen=True)
class Saved:
    """What a committed command leaves to do outside the transaction."""

    events: list[Event]
    wallets_touched: set[int]
    seq: int  # the room's last event id after the command


async def game(session: AsyncSession) -> Game:
    found = await session.scalar(select(Game).where(Game.slug == GAME_SLUG))
    if found is None:
        raise LookupError("the games catalogue has no russian-roulette row; run migrations")
    return found


def config_from(game_row: Game, overrides: dict[str, int]) -> roulette.RouletteConfig:
    """The room terms: the catalogue's limits and rates, timeouts overridable by settings."""
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
    return roulette.RouletteConfig(**values)


@dataclass(frozen=True)
class RoomRow:
    """What a command needs of the room's row; the row itself is written with one UPDATE."""

    id: int
    game_id: int
    seq: int
    state: dict[str, Any] | None
    ended_at: datetime | None


async def open_room(
    session: AsyncSession, game_id: int, stake: int, config: roulette.RouletteConfig, now: datetime
) -> tuple[RoomRow, roulette.RoomState]:
    """A new waiting room (flushed, not committed), its match rows and escrow, and its state."""
    room = Multiplayer(game_id=game_id, status="waiting", stake=stake, seq=0, created_at=now)
    session.add(room)
    await session.flush()
    state = roulette.new_room(room.id, stake, now, config)
    game_session = GameSession(game_id=game_id, user_id=None, status="waiting", started_at=now)
    session.add(game_session)
    await session.flush()
    session.add(RussianRoulette(room_id=room.id, game_session_id=game_session.id))
    await ledger.account_id(session, escrow_code(room.id), "escrow")
    return RoomRow(room.id, room.game_id, 0, None, None), state


# A room command's statements, built once (building them costs more CPU than running them).
_LOCK_ROOM = (
    select(
        Multiplayer.id,
        Multiplayer.game_id,
        Multiplayer.seq,
        Multiplayer.state,
        Multiplayer.ended_at,
    )
    .where(Multiplayer.id == bindparam("room"))
    .with_for_update()
)
_NEW_EVENTS = insert(RoomEvent)
_SAVE_ROOM = (
    update(Multiplayer)
    .where(Multiplayer.id == bindparam("room"))
    .values(
        seq=bindparam("seq"),
        status=bindparam("status"),
        seats_taken=bindparam("seats_taken"),
        state=bindparam("state", type_=Multiplayer.state.type),
        deadline_at=bindparam("deadline_at", type_=Multiplayer.deadline_at.type),
        ended_at=bindparam("ended_at", type_=Multiplayer.ended_at.type),
    )
)


async def lock_room(session: AsyncSession, room_id: int) -> RoomRow | None:
    """The room row, locked for this transaction (PostgreSQL; SQLite is already serialised)."""
    row = (await session.execute(_LOCK_ROOM, {"room": room_id})).one_or_none()
    return None if row is None else RoomRow(row.id, row.game_id, row.seq, row.state, row.ended_at)


async def take_seat(session: AsyncSession, room_id: int, user_id: int, now: datetime) -> bool:
    """Claim the user's one active seat; False if they already sit in an open room."""
    stmt = (
        postgresql.insert(ActiveSeat)
        .values(user_id=user_id, room_id=room_id, created_at=now)
        .on_conflict_do_nothing(index_elements=["user_id"])
        .returning(ActiveSeat.user_id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def seated_room(session: AsyncSession, user_id: int) -> int | None:
    return await session.scalar(select(ActiveSeat.room_id).where(ActiveSeat.user_id == user_id))


def event_body(room_id: int, event: roulette.Event, now: datetime) -> dict[str, Any]:
    body: dict[str, Any] = {"room_id": room_id, "type": event.type, "at": iso_utc(now)}
    for key, value in render(event.payload()).items():
        if key != "type":
            body[key] = value
    return body


@dataclass(frozen=True)
class OpenStake:
    user_id: int
    amount: int
    request_ref: str | None = None  # the keyed join's scope (idempotency.scope_of)


@dataclass(frozen=True)
class SettleStake:
    user_id: int
    status: str
    win: int


@dataclass(frozen=True)
class NumberBet:
    bet_id: int
    pull_number: int


@dataclass(frozen=True)
class SettleBet:
    bet_id: int
    status: str
    payout: int


HistoryWrite = OpenStake | SettleStake | NumberBet | SettleBet


@dataclass(frozen=True)
class Writes:
    """Everything one transition writes, decided without IO: `write` (SQLAlchemy) and
    store_pg.write (the bare PostgreSQL driver) carry it out, in this order."""

    room: RoomRow
    now: datetime
    postings: tuple[roulette.Posting, ...]
    events: list[Event]
    history: list[HistoryWrite]  # bet_history: stakes open at a join, settle at the end
    seats_kept: frozenset[int] | None  # free the room's other seats; None: seats unchanged
    room_values: dict[str, Any]
    match_values: dict[str, Any] | None  # the russian_roulette row; None: unchanged
    session_values: dict[str, Any] | None  # the game_sessions row; None: unchanged

    @property
    def seq(self) -> int:
        return int(self.room_values["seq"])

    @property
    def room_rows_only(self) -> bool:
        """No money, bet history or seats: only the room's own rows change."""
        return not self.postings and not self.history and self.seats_kept is None

    def room_after(self) -> RoomRow:
        """The room row as these writes leave it (its state is kept by the caller)."""
        return RoomRow(
            self.room.id, self.room.game_id, self.seq, None, self.room_values["ended_at"]
        )


def plan(
    room: RoomRow,
    before: roulette.RoomState,
    transition: roulette.Transition,
    now: datetime,
    request_ref: str | None = None,
) -> Writes:
    """What a transition writes: events numbered from the room's seq, bet history, seats, the
    room row and the match's rows (postings are resolved to accounts by the writer).
    `request_ref` names the stake a keyed join opens, so that its retry finds it."""
    state = transition.state
    events: list[Event] = []
    seq = room.seq
    for event in transition.events:
        seq += 1
        events.append(
            Event(channel(room.id), seq, event.type, encode(seq, event_body(room.id, event, now)))
        )
    deadline = roulette.next_deadline(state)
    room_values = {
        "room": room.id,
        "seq": seq,
        "status": state.status,
        "seats_taken": len(state.players),
        "state": roulette.to_dict(state),
        "deadline_at": deadline.at if deadline is not None else None,
        "ended_at": now if state.is_closed and room.ended_at is None else room.ended_at,
    }
    match_values, session_values = _match_writes(before, state, now)
    return Writes(
        room=room,
        now=now,
        postings=transition.postings,
        events=events,
        history=_history_writes(transition, request_ref),
        seats_kept=_seats_kept(before, state),
        room_values=room_values,
        match_values=match_values,
        session_values=session_values,
    )


def _history_writes(transition: roulette.Transition, request_ref: str | None) -> list[HistoryWrite]:
    writes: list[HistoryWrite] = [
        SettleStake(posting.user_id, "refunded", posting.amount)
        for posting in transition.postings
        if posting.kind == "refund" and posting.user_id is not None
    ]
    for event in transition.events:
        if isinstance(event, roulette.PlayerJoined):
            writes.append(OpenStake(event.user_id, event.stake, request_ref))
        elif isinstance(event, roulette.MatchEnded):
            writes.append(SettleStake(event.winner, "won", event.payout))
            writes.append(SettleStake(event.loser, "lost", 0))
        elif isinstance(event, roulette.BetPlaced):
            writes.append(NumberBet(event.bet_id, event.pull_number))
        elif isinstance(event, roulette.BetsSettled):
            writes.extend(SettleBet(bet.bet_id, bet.outcome, bet.payout) for bet in event.bets)
    return writes


def _seats_kept(before: roulette.RoomState, state: roulette.RoomState) -> frozenset[int] | None:
    """Seats of players who left and of a closed room are freed (only when that changed)."""
    if state.is_closed == before.is_closed and state.players == before.players:
        return None
    if state.is_closed:
        return frozenset()
    return frozenset(player.user_id for player in state.players)


def _match_writes(
    before: roulette.RoomState, state: roulette.RoomState, now: datetime
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The seed's russian_roulette and game_sessions rows, mirrored from the match."""
    if state.status == "waiting" and before.status == "waiting":
        return None, None  # nothing of the match exists yet
    winner = state.players[state.winner_seat].user_id if state.winner_seat is not None else None
    turn = (
        state.players[state.turn_seat].user_id
        if state.status == "playing" and state.turn_seat is not None
        else None
    )
    match: dict[str, Any] = {
        "server_seed_hash": state.server_seed_hash,
        "client_seed": state.client_seed,
        "first_shooter_seat": state.first_shooter_seat,
        "pull_number": state.pull_number,
        "turn_user_id": turn,
        "turn_deadline": state.turn_deadline if turn is not None else None,
        "winner_user_id": winner,
    }
    if state.status == "finished":
        # Revealed in match_ended; stored with the outcome only once it is public.
        match.update(server_seed=state.server_seed, bullet=state.bullet)
    session = None
    if state.status != before.status:
        session = {"status": state.status, "ended_at": now if state.is_closed else None}
    return match, session


async def write(session: AsyncSession, writes: Writes, accounts: AccountIds | None) -> Saved:
    """Carry out a transition's writes in the caller's transaction (SQLAlchemy): postings
    through the ledger, then the events, bet history, seats and the room's rows. `accounts`
    remembers ledger ids across commands (None while the room is being opened)."""

    async def resolve(code: str, kind: str | None, user_id: int | None) -> int:
        async def open_() -> int:
            return await ledger.account_id(session, code, kind, user_id=user_id)

        if accounts is None:
            return await open_()

        async def find() -> int | None:
            return await ledger.find_account(session, code)

        return await accounts.get(code, find, open_)

    room_id = writes.room.id
    moves, touched = await transfer_specs(room_id, writes.postings, resolve)
    # Applied as one batch, in order: the escrow never dips below zero along the way.
    await ledger.transfer_many(session, moves)
    if writes.events:
        await session.execute(
            _NEW_EVENTS,
            [
                {
                    "room_id": room_id,
                    "seq": e.seq,
                    "type": e.type,
                    "data": e.data,
                    "created_at": writes.now,
                }
                for e in writes.events
            ],
        )
    for item in writes.history:
        await session.execute(*_history_statement(writes, item))
    if writes.seats_kept is not None:
        await session.execute(
            delete(ActiveSeat).where(
                ActiveSeat.room_id == room_id, ActiveSeat.user_id.not_in(writes.seats_kept)
            )
        )
    await session.execute(_SAVE_ROOM, writes.room_values)
    if writes.match_values is not None:
        await session.execute(
            update(RussianRoulette)
            .where(RussianRoulette.room_id == room_id)
            .values(**writes.match_values)
        )
    if writes.session_values is not None:
        game_session = (
            select(RussianRoulette.game_session_id)
            .where(RussianRoulette.room_id == room_id)
            .scalar_subquery()
        )
        await session.execute(
            update(GameSession)
            .where(GameSession.id == game_session)
            .values(**writes.session_values)
        )
    return Saved(writes.events, touched, writes.seq)


def _history_statement(writes: Writes, item: HistoryWrite) -> tuple[Any, dict[str, Any]]:
    room_id, now = writes.room.id, writes.now
    if isinstance(item, OpenStake):
        return _OPEN_STAKE, {
            "user_id": item.user_id,
            "game_id": writes.room.game_id,
            "room_id": room_id,
            "bet_type": "stake",
            "bet_amount": item.amount,
            "win_amount": 0,
            "status": "pending",
            "request_ref": item.request_ref,
            "created_at": now,
        }
    if isinstance(item, SettleStake):
        return _SETTLE_STAKE, {
            "room": room_id,
            "user": item.user_id,
            "new_status": item.status,
            "win": item.win,
            "at": now,
        }
    if isinstance(item, NumberBet):
        return _NUMBER_BET, {"bet": item.bet_id, "pull": item.pull_number}
    return _SETTLE_BET, {
        "bet": item.bet_id,
        "new_status": item.status,
        "win": item.payout,
        "at": now,
    }


_OPEN_STAKE = insert(BetHistory)
_SETTLE_STAKE = (
    update(BetHistory)
    .where(
        BetHistory.room_id == bindparam("room"),
        BetHistory.user_id == bindparam("user"),
        BetHistory.bet_type == "stake",
        BetHistory.status == "pending",
    )
    .values(status=bindparam("new_status"), win_amount=bindparam("win"), settled_at=bindparam("at"))
)
_NUMBER_BET = (
    update(BetHistory)
    .where(BetHistory.id == bindparam("bet"))
    .values(pull_number=bindparam("pull"))
)
_SETTLE_BET = (
    update(BetHistory)
    .where(BetHistory.id == bindparam("bet"))
    .values(status=bindparam("new_status"), win_amount=bindparam("win"), settled_at=bindparam("at"))
)


class RoomTx(Protocol):
    """One room command's transaction, on either database layer: the room row locked, what a
    command may need to write before the rules run, and the transition's writes."""

    async def lock_room(self, room_id: int) -> RoomRow | None: ...

    async def open_room(
        self, game_id: int, stake: int, config: roulette.RouletteConfig, now: datetime
    ) -> tuple[RoomRow, roulette.RoomState]: ...

    async def take_seat(self, room_id: int, user_id: int, now: datetime) -> bool:
        """Claim the user's one active seat; False if they already sit in an open room."""
        ...

    async def seated_room(self, user_id: int) -> int | None: ...

    async def login_live(self, user_id: int, family_id: str) -> bool:
        """Whether this login (token family) is neither logged out nor revoked."""
        ...

    async def new_side_bet(
        self,
        room: RoomRow,
        user_id: int,
        bet_type: str,
        amount: int,
        now: datetime,
        request_ref: str | None,
    ) -> int:
        """A pending side bet's bet_history row, named after its request's key if it has one;
        its id."""
        ...

    async def write(self, writes: Writes) -> Saved: ...


class SessionRoomTx:
    """RoomTx through an SQLAlchemy session (SQLite, and rooms being opened)."""

    def __init__(self, session: AsyncSession, accounts: AccountIds | None) -> None:
        self.session = session
        self.accounts = accounts

    async def lock_room(self, room_id: int) -> RoomRow | None:
        return await lock_room(self.session, room_id)

    async def open_room(
        self, game_id: int, stake: int, config: roulette.RouletteConfig, now: datetime
    ) -> tuple[RoomRow, roulette.RoomState]:
        return await open_room(self.session, game_id, stake, config, now)

    async def take_seat(self, room_id: int, user_id: int, now: datetime) -> bool:
        return await take_seat(self.session, room_id, user_id, now)

    async def seated_room(self, user_id: int) -> int | None:
        return await seated_room(self.session, user_id)

    async def login_live(self, user_id: int, family_id: str) -> bool:
        return bool(await self.session.scalar(select(live_login(user_id, family_id))))

    async def new_side_bet(
        self,
        room: RoomRow,
        user_id: int,
        bet_type: str,
        amount: int,
        now: datetime,
        request_ref: str | None,
    ) -> int:
        bet = BetHistory(
            user_id=user_id,
            game_id=room.game_id,
            room_id=room.id,
            bet_type=bet_type,
            bet_amount=amount,
            win_amount=0,
            status="pending",
            request_ref=request_ref,
            created_at=now,
        )
        self.session.add(bet)
        await self.session.flush()
        return bet.id

    async def write(self, writes: Writes) -> Saved:
        return await write(self.session, writes, self.accounts)


async def room_joined_by(session: AsyncSession, user_id: int, request_ref: str) -> int | None:
    """The room whose stake a keyed join took, if it took one."""
    found = await session.scalar(
        select(BetHistory.room_id).where(
            BetHistory.request_ref == request_ref,
            BetHistory.user_id == user_id,
            BetHistory.bet_type == "stake",
        )
    )
    return None if found is None else int(found)


async def side_bet_made_by(
    session: AsyncSession, user_id: int, request_ref: str
) -> tuple[int, BetType, int, int] | None:
    """(bet id, type, amount, pull number) of the side bet a keyed request placed, if any."""
    row = (
        await session.execute(
            select(
                BetHistory.id, BetHistory.bet_type, BetHistory.bet_amount, BetHistory.pull_number
            ).where(
                BetHistory.request_ref == request_ref,
                BetHistory.user_id == user_id,
                BetHistory.bet_type.in_(BET_TYPES),
            )
        )
    ).one_or_none()
    if row is None or row.pull_number is None:
        return None
    return row.id, cast(BetType, row.bet_type), row.bet_amount, row.pull_number


async def durable_history(
    sessions: async_sessionmaker[AsyncSession], room_id: int, since: int
) -> list[Event] | None:
    """Events after `since` from the database (kept at least 24 h after the room ends)."""
    async with sessions() as session:
        rows = (
            await session.execute(
                select(RoomEvent.seq, RoomEvent.type, RoomEvent.data)
                .where(RoomEvent.room_id == room_id, RoomEvent.seq > since)
                .order_by(RoomEvent.seq)
            )
        ).all()
    events = [Event(channel(room_id), row.seq, row.type, row.data) for row in rows]
    if events and events[0].seq != since + 1:
        return None
    return events


SNAPSHOT = select(Multiplayer.seq, Multiplayer.state).where(Multiplayer.id == bindparam("room"))


async def snapshot(
    sessions: async_sessionmaker[AsyncSession], room_id: int
) -> tuple[int, roulette.RoomState] | None:
    async with sessions() as session:
        row = (await session.execute(SNAPSHOT, {"room": room_id})).one_or_none()
    if row is None or row.state is None:
        return None
    return row.seq, roulette.from_dict(row.state)


# Waiting rooms with this stake and a free seat, oldest first (matchmaking).
CANDIDATES = (
    select(Multiplayer.id)
    .where(
        Multiplayer.status == "waiting",
        Multiplayer.stake == bindparam("stake"),
        Multiplayer.seats_taken == 1,
    )
    .order_by(Multiplayer.id)
    .limit(5)
)


async def candidate_rooms(session: AsyncSession, stake: int) -> list[int]:
    return list(await session.scalars(CANDIDATES, {"stake": stake}))


async def list_rooms(
    session: AsyncSession, status: str | None, limit: int = 100
) -> list[tuple[int, dict[str, Any]]]:
    query = select(Multiplayer.seq, Multiplayer.state).where(Multiplayer.state.is_not(None))
    if status is not None:
        query = query.where(Multiplayer.status == status)
    else:
        query = query.where(Multiplayer.status.in_(OPEN))
    rows = await session.execute(query.order_by(Multiplayer.id.desc()).limit(limit))
    return [(row.seq, row.state) for row in rows]


async def open_room_ids(session: AsyncSession) -> list[int]:
    return list(await session.scalars(select(Multiplayer.id).where(Multiplayer.status.in_(OPEN))))


async def overdue_room_ids(session: AsyncSession, before: datetime) -> list[int]:
    return list(
        await session.scalars(
            select(Multiplayer.id).where(
                Multiplayer.status.in_(OPEN), Multiplayer.deadline_at < before
            )
        )
    )


async def escrow_problems(session: AsyncSession) -> list[str]:
    """Escrow accounts of finished or cancelled rooms that still hold money (must be none)."""
    closed = select(Multiplayer.id).where(Multiplayer.status.in_(("finished", "cancelled")))
    codes = {escrow_code(room_id) for room_id in await session.scalars(closed)}
    if not codes:
        return []
    rows = await session.execute(
        select(Account.code, Account.balance).where(Account.code.in_(codes), Account.balance != 0)
    )
    return [f"{row.code} holds {row.balance} after its room closed" for row in rows]
