"""Rooms in the database: what a committed message writes, planned without IO (store_pg writes
it), and the reads of rooms (snapshots, history, matchmaking, lists, invariants)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gamehub import ledger, taxes
from gamehub.db import iso_utc
from gamehub.models import Account, BetHistory, Game, Multiplayer, RoomEvent
from gamehub.rooms.broker import Event, encode
from gamehub.rooms.game import GameRows, Posting, RoomGame
from gamehub.rooms.render import render

OPEN = ("waiting", "playing")
ESCROW_PREFIX = "escrow:room:"


def escrow_code(room_id: int) -> str:
    return f"{ESCROW_PREFIX}{room_id}"


def channel(room_id: int) -> str:
    return f"room:{room_id}"


class AccountIds:
    """Ledger account ids by code, remembered per app (accounts are never deleted or renumbered);
    only committed ones: an account opened by a transaction vanishes if it rolls back."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}

    def known(self, code: str) -> int | None:
        return self._ids.get(code)

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
    """A ledger account a one-statement write needs is not open yet (the transactional way
    opens it)."""


Resolve = Callable[[str, str | None, int | None], Awaitable[int]]


async def transfer_specs(
    room_id: int, postings: Sequence[Posting], kind_prefix: str, resolve: Resolve
) -> list[ledger.TransferSpec]:
    """The ledger transfers of a transition's postings, accounts by `resolve(code, kind, user)`."""
    moves: list[ledger.TransferSpec] = []
    for posting in postings:
        parties: dict[str, int] = {"escrow": await resolve(escrow_code(room_id), "escrow", None)}
        if "house" in (posting.source, posting.destination):
            # Rooms spread over the house's sub-accounts, as players do for spins.
            parties["house"] = await resolve(ledger.house_shard(room_id), "house", None)
        if "tax" in (posting.source, posting.destination):
            code = taxes.withholding_account(kind_prefix, room_id)
            parties["tax"] = await resolve(code, "tax", None)
        if posting.user_id is not None:
            parties["wallet"] = await resolve(
                ledger.wallet_code(posting.user_id), "wallet", posting.user_id
            )
        moves.append(
            ledger.TransferSpec(
                reference=posting.reference,
                kind=f"{kind_prefix}_{posting.kind}",
                debit=parties[posting.source],
                credit=parties[posting.destination],
                amount=posting.amount,
            )
        )
    return moves


@dataclass(frozen=True)
class Saved:
    """What a committed message leaves to do: publish its events."""

    events: list[Event]
    seq: int  # the room's last event id after the message


@dataclass(frozen=True)
class RoomRow:
    """What the runtime needs of a room's row; the row itself is written with one UPDATE."""

    id: int
    game_id: int
    seq: int
    ended_at: datetime | None


def event_body(room_id: int, event: Any, now: datetime) -> dict[str, Any]:
    body: dict[str, Any] = {"room_id": room_id, "type": event.type, "at": iso_utc(now)}
    for key, value in render(event.payload()).items():
        if key != "type":
            body[key] = value
    return body


@dataclass(frozen=True)
class Writes:
    """Everything one transition writes, decided without IO; store_pg carries it out."""

    room: RoomRow
    now: datetime
    postings: Sequence[Posting]
    events: list[Event]
    seats_kept: frozenset[int] | None  # free the room's other seats; None: seats unchanged
    room_values: dict[str, Any]
    rows: GameRows  # the game's own rows

    @property
    def seq(self) -> int:
        return int(self.room_values["seq"])

    def room_after(self) -> RoomRow:
        """The room row as these writes leave it."""
        return RoomRow(self.room.id, self.room.game_id, self.seq, self.room_values["ended_at"])


def plan(
    game: RoomGame[Any],
    room: RoomRow,
    before: Any,
    transition: Any,
    now: datetime,
    request_ref: str | None = None,
) -> Writes:
    """What a transition writes: events numbered from the room's seq, the room row, the seats
    freed (when they changed) and the game's rows."""
    state = transition.state
    events: list[Event] = []
    seq = room.seq
    for event in transition.events:
        seq += 1
        events.append(
            Event(channel(room.id), seq, event.type, encode(seq, event_body(room.id, event, now)))
        )
    closed, seated = game.is_closed(state), game.seated(state)
    seats_kept = None
    if closed != game.is_closed(before) or seated != game.seated(before):
        seats_kept = frozenset() if closed else frozenset(seated)
    room_values = {
        "room": room.id,
        "seq": seq,
        "status": game.status(state),
        "seats_taken": len(seated),
        "state": game.dump(state),
        "deadline_at": game.deadline(state),
        "ended_at": now if closed and room.ended_at is None else room.ended_at,
    }
    return Writes(
        room=room,
        now=now,
        postings=transition.postings,
        events=events,
        seats_kept=seats_kept,
        room_values=room_values,
        rows=game.rows(before, transition, now, request_ref),
    )


async def bet_made_by(session: AsyncSession, user_id: int, request_ref: str) -> BetHistory | None:
    """The stake or side bet a keyed request placed (named after its scope), if it placed one."""
    return await session.scalar(
        select(BetHistory).where(
            BetHistory.request_ref == request_ref, BetHistory.user_id == user_id
        )
    )


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
    cannot be given exactly."""
    events = await durable_history(sessions, room_id, since)
    if events is None or events:
        return events
    async with sessions() as session:
        seq = await session.scalar(select(Multiplayer.seq).where(Multiplayer.id == room_id))
    return [] if seq == since else None


# A room as last committed (its seq and state): store_pg.snapshot.
SNAPSHOT = select(Multiplayer.seq, Multiplayer.state).where(Multiplayer.id == bindparam("room"))


# A game's waiting rooms with this stake and a free seat, oldest first (matchmaking).
CANDIDATES = (
    select(Multiplayer.id)
    .where(
        Multiplayer.status == "waiting",
        Multiplayer.game_id == bindparam("game_id"),
        Multiplayer.stake == bindparam("stake"),
        Multiplayer.seats_taken == 1,
    )
    .order_by(Multiplayer.id)
    .limit(5)
)


async def list_rooms(
    session: AsyncSession, game_id: int, status: str | None, limit: int = 100
) -> list[tuple[int, dict[str, Any]]]:
    query = select(Multiplayer.seq, Multiplayer.state).where(
        Multiplayer.game_id == game_id, Multiplayer.state.is_not(None)
    )
    query = query.where(
        Multiplayer.status.in_(OPEN) if status is None else Multiplayer.status == status
    )
    rows = await session.execute(query.order_by(Multiplayer.id.desc()).limit(limit))
    return [(row.seq, row.state) for row in rows]


def _of_game(slug: str) -> ColumnElement[bool]:
    """Rooms of the game with this catalogue slug."""
    return Multiplayer.game_id == select(Game.id).where(Game.slug == slug).scalar_subquery()


async def open_room_ids(session: AsyncSession, slug: str) -> list[int]:
    query = select(Multiplayer.id).where(_of_game(slug), Multiplayer.status.in_(OPEN))
    return list(await session.scalars(query))


async def live_room_seqs(
    session: AsyncSession, slug: str, ended_since: datetime
) -> list[tuple[int, int]]:
    """(room id, seq) of every open room and every room that ended since `ended_since`."""
    columns = (Multiplayer.id, Multiplayer.seq)
    rows = await session.execute(
        union_all(
            select(*columns).where(_of_game(slug), Multiplayer.status.in_(OPEN)),
            select(*columns).where(
                _of_game(slug), Multiplayer.status.not_in(OPEN), Multiplayer.ended_at >= ended_since
            ),
        )
    )
    return [(int(room_id), int(seq)) for room_id, seq in rows]


async def overdue_room_ids(session: AsyncSession, slug: str, before: datetime) -> list[int]:
    open_rooms = (_of_game(slug), Multiplayer.status.in_(OPEN))
    query = select(Multiplayer.id).where(*open_rooms, Multiplayer.deadline_at < before)
    return list(await session.scalars(query))


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
