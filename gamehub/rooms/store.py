"""Rooms in the database: opening, locking and saving a room, its events, seats, bet history and
the ledger postings of each command. Used inside the actor's one transaction per command."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gamehub import ledger
from gamehub.db import dialect_insert, iso_utc
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
from gamehub.rooms.render import render

GAME_SLUG = "russian-roulette"
OPEN = ("waiting", "playing")


def escrow_code(room_id: int) -> str:
    return f"escrow:room:{room_id}"


def channel(room_id: int) -> str:
    return f"room:{room_id}"


class AccountIds:
    """Ledger account ids by code, remembered per app: accounts are never deleted or renumbered,
    so room commands skip their lookups. Only an id that existed before the current transaction
    is remembered: one opened by it would vanish if it rolled back."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}

    async def get(
        self, session: AsyncSession, code: str, kind: str | None = None, user_id: int | None = None
    ) -> int:
        found = self._ids.get(code)
        if found is not None:
            return found
        found = await session.scalar(select(Account.id).where(Account.code == code))
        if found is not None:
            self._ids[code] = found
            return found
        return await ledger.account_id(session, code, kind, user_id=user_id)


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
    session: AsyncSession, stake: int, config: roulette.RouletteConfig, now: datetime
) -> tuple[RoomRow, roulette.RoomState]:
    """A new waiting room (flushed, not committed) and its empty state."""
    game_row = await game(session)
    room = Multiplayer(game_id=game_row.id, status="waiting", stake=stake, seq=0, created_at=now)
    session.add(room)
    await session.flush()
    state = roulette.new_room(room.id, stake, now, config)
    game_session = GameSession(game_id=game_row.id, user_id=None, status="waiting", started_at=now)
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


async def _apply_postings(
    session: AsyncSession,
    room_id: int,
    postings: tuple[roulette.Posting, ...],
    accounts: AccountIds | None,
) -> set[int]:
    if not postings:
        return set()

    async def account(code: str, kind: str | None = None, user_id: int | None = None) -> int:
        if accounts is None:  # the room is being opened: its escrow is not committed yet
            return await ledger.account_id(session, code, kind, user_id=user_id)
        return await accounts.get(session, code, kind, user_id)

    touched: set[int] = set()
    moves: list[ledger.TransferSpec] = []
    for posting in postings:
        parties: dict[str, int] = {"escrow": await account(escrow_code(room_id), "escrow")}
        if "house" in (posting.source, posting.destination):
            parties["house"] = await account(ledger.HOUSE)
        if posting.user_id is not None:
            parties["wallet"] = await account(
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
    # Applied as one batch, in order: the escrow never dips below zero along the way.
    await ledger.transfer_many(session, moves)
    return touched


async def _record_history(
    session: AsyncSession,
    room: RoomRow,
    state: roulette.RoomState,
    transition: roulette.Transition,
    now: datetime,
) -> None:
    """Keep bet_history in step: stakes open at a join, settle at the end; side bets settle."""
    for posting in transition.postings:
        if posting.kind == "refund" and posting.user_id is not None:
            await _settle_stake(session, room.id, posting.user_id, "refunded", posting.amount, now)
    for event in transition.events:
        if isinstance(event, roulette.PlayerJoined):
            session.add(
                BetHistory(
                    user_id=event.user_id,
                    game_id=room.game_id,
                    room_id=room.id,
                    bet_type="stake",
                    bet_amount=event.stake,
                    win_amount=0,
                    status="pending",
                    created_at=now,
                )
            )
        elif isinstance(event, roulette.MatchEnded):
            await _settle_stake(session, room.id, event.winner, "won", event.payout, now)
            await _settle_stake(session, room.id, event.loser, "lost", 0, now)
        elif isinstance(event, roulette.BetPlaced):
            await session.execute(
                update(BetHistory)
                .where(BetHistory.id == event.bet_id)
                .values(pull_number=event.pull_number)
            )
        elif isinstance(event, roulette.BetsSettled):
            for bet in event.bets:
                await session.execute(
                    update(BetHistory)
                    .where(BetHistory.id == bet.bet_id)
                    .values(status=bet.outcome, win_amount=bet.payout, settled_at=now)
                )


async def _settle_stake(
    session: AsyncSession, room_id: int, user_id: int, status: str, win: int, now: datetime
) -> None:
    await session.execute(
        update(BetHistory)
        .where(
            BetHistory.room_id == room_id,
            BetHistory.user_id == user_id,
            BetHistory.bet_type == "stake",
            BetHistory.status == "pending",
        )
        .values(status=status, win_amount=win, settled_at=now)
    )


async def _sync_seats(
    session: AsyncSession,
    room_id: int,
    before: roulette.RoomState,
    state: roulette.RoomState,
) -> None:
    """Free the seats of players who left and of a closed room (only when that changed)."""
    if state.is_closed == before.is_closed and state.players == before.players:
        return
    if state.is_closed:
        await session.execute(delete(ActiveSeat).where(ActiveSeat.room_id == room_id))
        return
    seated = {player.user_id for player in state.players}
    await session.execute(
        delete(ActiveSeat).where(ActiveSeat.room_id == room_id, ActiveSeat.user_id.not_in(seated))
    )


async def take_seat(session: AsyncSession, room_id: int, user_id: int, now: datetime) -> bool:
    """Claim the user's one active seat; False if they already sit in an open room."""
    stmt = (
        dialect_insert(session, ActiveSeat)
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


async def save(
    session: AsyncSession,
    room: RoomRow,
    before: roulette.RoomState,
    transition: roulette.Transition,
    now: datetime,
    accounts: AccountIds | None,
) -> Saved:
    """Apply a transition: postings through the ledger, events numbered from the room's seq,
    seats, bet history and the room row, all in the caller's transaction. `accounts` remembers
    ledger ids across commands (None while the room is being opened)."""
    state = transition.state
    touched = await _apply_postings(session, room.id, transition.postings, accounts)
    published: list[Event] = []
    seq = room.seq
    for event in transition.events:
        seq += 1
        published.append(
            Event(channel(room.id), seq, event.type, encode(seq, event_body(room.id, event, now)))
        )
    if published:
        await session.execute(
            _NEW_EVENTS,
            [
                {
                    "room_id": room.id,
                    "seq": e.seq,
                    "type": e.type,
                    "data": e.data,
                    "created_at": now,
                }
                for e in published
            ],
        )
    await _record_history(session, room, state, transition, now)
    await _sync_seats(session, room.id, before, state)
    deadline = roulette.next_deadline(state)
    await session.execute(
        _SAVE_ROOM,
        {
            "room": room.id,
            "seq": seq,
            "status": state.status,
            "seats_taken": len(state.players),
            "state": roulette.to_dict(state),
            "deadline_at": deadline.at if deadline is not None else None,
            "ended_at": now if state.is_closed and room.ended_at is None else room.ended_at,
        },
    )
    await _save_match(session, room.id, before, state, now)
    return Saved(published, touched, seq)


async def _save_match(
    session: AsyncSession,
    room_id: int,
    before: roulette.RoomState,
    state: roulette.RoomState,
    now: datetime,
) -> None:
    """Mirror the match into the seed's russian_roulette and game_sessions rows."""
    if state.status == "waiting" and before.status == "waiting":
        return  # nothing of the match exists yet
    winner = state.players[state.winner_seat].user_id if state.winner_seat is not None else None
    turn = (
        state.players[state.turn_seat].user_id
        if state.status == "playing" and state.turn_seat is not None
        else None
    )
    values: dict[str, Any] = {
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
        values.update(server_seed=state.server_seed, bullet=state.bullet)
    await session.execute(
        update(RussianRoulette).where(RussianRoulette.room_id == room_id).values(**values)
    )
    if state.status != before.status:
        game_session = (
            select(RussianRoulette.game_session_id)
            .where(RussianRoulette.room_id == room_id)
            .scalar_subquery()
        )
        await session.execute(
            update(GameSession)
            .where(GameSession.id == game_session)
            .values(status=state.status, ended_at=now if state.is_closed else None)
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


async def snapshot(
    sessions: async_sessionmaker[AsyncSession], room_id: int
) -> tuple[int, roulette.RoomState] | None:
    async with sessions() as session:
        row = (
            await session.execute(
                select(Multiplayer.seq, Multiplayer.state).where(Multiplayer.id == room_id)
            )
        ).one_or_none()
    if row is None or row.state is None:
        return None
    return row.seq, roulette.from_dict(row.state)


async def candidate_rooms(session: AsyncSession, stake: int, limit: int = 5) -> list[int]:
    """Waiting rooms with this stake and a free seat, oldest first (matchmaking)."""
    rows = await session.scalars(
        select(Multiplayer.id)
        .where(
            Multiplayer.status == "waiting",
            Multiplayer.stake == stake,
            Multiplayer.seats_taken == 1,
        )
        .order_by(Multiplayer.id)
        .limit(limit)
    )
    return list(rows)


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
