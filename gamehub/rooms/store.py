"""Rooms in the database: what each command writes (its events, seats, bet history and ledger
postings, planned without IO and written by store_pg), the transaction a command runs in, and
the reads of rooms (snapshots, history, matchmaking, lists, invariants)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import bindparam, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gamehub import ledger
from gamehub.db import iso_utc
from gamehub.models import Account, BetHistory, Game, Multiplayer, RoomEvent
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
    """Everything one transition writes, decided without IO: store_pg carries it out (in a
    command's transaction, PgRoomTx.write, or alone, write_alone)."""

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


class RoomTx(Protocol):
    """One room command's transaction (store_pg.PgRoomTx): the room row locked, what a
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


async def durable_replay(
    sessions: async_sessionmaker[AsyncSession], room_id: int, since: int
) -> list[Event] | None:
    """What a subscriber resuming after `since` missed, from the database; None when that
    cannot be given exactly: the events are no longer kept, or the room never reached `since`."""
    events = await durable_history(sessions, room_id, since)
    if events is None or events:
        return events
    async with sessions() as session:
        seq = await session.scalar(select(Multiplayer.seq).where(Multiplayer.id == room_id))
    return [] if seq == since else None


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


async def live_room_seqs(session: AsyncSession, ended_since: datetime) -> list[tuple[int, int]]:
    """(room id, seq) of every open room and every room that ended since `ended_since`."""
    columns = (Multiplayer.id, Multiplayer.seq)
    rows = await session.execute(
        union_all(
            select(*columns).where(Multiplayer.status.in_(OPEN)),
            select(*columns).where(
                Multiplayer.status.not_in(OPEN), Multiplayer.ended_at >= ended_since
            ),
        )
    )
    return [(int(room_id), int(seq)) for room_id, seq in rows]


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
