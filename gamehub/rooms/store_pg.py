"""A room command's transaction on the bare PostgreSQL driver (gamehub/pg.py): the same writes
as store.write, decided by store.plan, in a handful of cheap statements."""

from __future__ import annotations

import json
from datetime import datetime

from gamehub import ledger, ledger_pg
from gamehub.pg import Connection, RawPool, Sql
from gamehub.rooms import roulette, store

_LOCK_ROOM = Sql(
    """
    SELECT id, game_id, seq, state::text, ended_at FROM multiplayer
    WHERE id = :room FOR UPDATE
    """
)
_ACCOUNT_ID = Sql("SELECT id FROM ledger_accounts WHERE code = :code")
_TAKE_SEAT = Sql(
    """
    INSERT INTO active_seats (user_id, room_id, created_at) VALUES (:user_id, :room_id, :now)
    ON CONFLICT (user_id) DO NOTHING
    RETURNING user_id
    """
)
_SEATED_ROOM = Sql("SELECT room_id FROM active_seats WHERE user_id = :user_id")
_NEW_BET = Sql(
    """
    INSERT INTO bet_history
        (user_id, game_id, room_id, bet_type, bet_amount, win_amount, status, created_at)
    VALUES (:user_id, :game_id, :room_id, :bet_type, :amount, 0, 'pending', :now)
    RETURNING id
    """
)
_NEW_EVENTS = Sql(
    """
    INSERT INTO room_events (room_id, seq, type, data, created_at)
    SELECT :room_id, * FROM unnest(:seqs::bigint[], :types::text[], :datas::text[],
                                   :created::timestamptz[])
    """
)
_OPEN_STAKE = Sql(
    """
    INSERT INTO bet_history
        (user_id, game_id, room_id, bet_type, bet_amount, win_amount, status, created_at)
    VALUES (:user_id, :game_id, :room_id, 'stake', :amount, 0, 'pending', :now)
    """
)
_SETTLE_STAKE = Sql(
    """
    UPDATE bet_history SET status = :new_status, win_amount = :win, settled_at = :now
    WHERE room_id = :room_id AND user_id = :user_id AND bet_type = 'stake' AND status = 'pending'
    """
)
_NUMBER_BET = Sql("UPDATE bet_history SET pull_number = :pull WHERE id = :bet")
_SETTLE_BET = Sql(
    """
    UPDATE bet_history SET status = :new_status, win_amount = :win, settled_at = :now
    WHERE id = :bet
    """
)
_FREE_SEATS = Sql(
    "DELETE FROM active_seats WHERE room_id = :room_id AND NOT (user_id = ANY(:kept::bigint[]))"
)
_SAVE_ROOM = Sql(
    """
    UPDATE multiplayer SET seq = :seq, status = :status, seats_taken = :seats_taken,
        state = :state::json, deadline_at = :deadline_at, ended_at = :ended_at
    WHERE id = :room
    """
)
# The match's columns are written as store.plan gives them: the seed and the bullet only once
# the match is finished (COALESCE keeps them until then).
_SAVE_MATCH = Sql(
    """
    WITH match AS (
        UPDATE russian_roulette SET
            server_seed_hash = :server_seed_hash, client_seed = :client_seed,
            first_shooter_seat = :first_shooter_seat, pull_number = :pull_number,
            turn_user_id = :turn_user_id, turn_deadline = :turn_deadline,
            winner_user_id = :winner_user_id,
            server_seed = COALESCE(:server_seed, server_seed),
            bullet = COALESCE(:bullet, bullet)
        WHERE room_id = :room_id
        RETURNING game_session_id
    )
    UPDATE game_sessions SET status = :session_status, ended_at = :session_ended_at
    WHERE :session_changes AND id = (SELECT game_session_id FROM match)
    """
)


_SNAPSHOT = Sql.compiled(store.SNAPSHOT, "room")
_CANDIDATES = Sql.compiled(store.CANDIDATES, "stake")


async def snapshot(pool: RawPool, room_id: int) -> tuple[int, roulette.RoomState] | None:
    """store.snapshot on the bare driver: every stream opened on a room reads it."""
    row = await pool.fetchrow(_SNAPSHOT, {"room": room_id})
    if row is None or row[1] is None:
        return None
    state = row[1] if isinstance(row[1], dict) else json.loads(row[1])
    return row[0], roulette.from_dict(state)


async def candidate_rooms(pool: RawPool, stake: int) -> list[int]:
    async with pool.connection() as connection:
        return [row[0] for row in await _CANDIDATES.fetch(connection, stake=stake)]


class PgRoomTx:
    """store.RoomTx on a bare connection inside a transaction."""

    def __init__(self, connection: Connection, accounts: store.AccountIds) -> None:
        self.connection = connection
        self.accounts = accounts

    async def lock_room(self, room_id: int) -> store.RoomRow | None:
        row = await _LOCK_ROOM.fetchrow(self.connection, room=room_id)
        if row is None:
            return None
        state = None if row[3] is None else json.loads(row[3])
        return store.RoomRow(row[0], row[1], row[2], state, row[4])

    async def take_seat(self, room_id: int, user_id: int, now: datetime) -> bool:
        taken = await _TAKE_SEAT.fetchval(
            self.connection, user_id=user_id, room_id=room_id, now=now
        )
        return taken is not None

    async def seated_room(self, user_id: int) -> int | None:
        found = await _SEATED_ROOM.fetchval(self.connection, user_id=user_id)
        return None if found is None else int(found)

    async def new_side_bet(
        self, room: store.RoomRow, user_id: int, bet_type: str, amount: int, now: datetime
    ) -> int:
        return int(
            await _NEW_BET.fetchval(
                self.connection,
                user_id=user_id,
                game_id=room.game_id,
                room_id=room.id,
                bet_type=bet_type,
                amount=amount,
                now=now,
            )
        )

    async def _resolve(self, code: str, kind: str | None, user_id: int | None) -> int:
        async def find() -> int | None:
            found = await _ACCOUNT_ID.fetchval(self.connection, code=code)
            return None if found is None else int(found)

        async def open_() -> int:
            return await ledger_pg.account_id(
                self.connection, code, kind or ledger.SYSTEM_ACCOUNTS[code], user_id=user_id
            )

        return await self.accounts.get(code, find, open_)

    async def write(self, writes: store.Writes) -> store.Saved:
        connection, room, now = self.connection, writes.room, writes.now
        moves, touched = await store.transfer_specs(room.id, writes.postings, self._resolve)
        # Applied as one batch, in order: the escrow never dips below zero along the way.
        await ledger_pg.transfer_many(connection, moves)
        if writes.events:
            await _NEW_EVENTS.execute(
                connection,
                room_id=room.id,
                seqs=[e.seq for e in writes.events],
                types=[e.type for e in writes.events],
                datas=[e.data for e in writes.events],
                created=[now] * len(writes.events),
            )
        for item in writes.history:
            await self._history(writes, item)
        if writes.seats_kept is not None:
            await _FREE_SEATS.execute(connection, room_id=room.id, kept=list(writes.seats_kept))
        values = dict(writes.room_values)
        values["state"] = json.dumps(values["state"])
        await _SAVE_ROOM.execute(connection, **values)
        if writes.match_values is not None:
            session = writes.session_values or {}
            await _SAVE_MATCH.execute(
                connection,
                **{"server_seed": None, "bullet": None, **writes.match_values},
                room_id=room.id,
                session_status=session.get("status"),
                session_ended_at=session.get("ended_at"),
                session_changes=writes.session_values is not None,
            )
        return store.Saved(writes.events, touched, writes.seq)

    async def _history(self, writes: store.Writes, item: store.HistoryWrite) -> None:
        connection, room, now = self.connection, writes.room, writes.now
        if isinstance(item, store.OpenStake):
            await _OPEN_STAKE.execute(
                connection,
                user_id=item.user_id,
                game_id=room.game_id,
                room_id=room.id,
                amount=item.amount,
                now=now,
            )
        elif isinstance(item, store.SettleStake):
            await _SETTLE_STAKE.execute(
                connection,
                new_status=item.status,
                win=item.win,
                now=now,
                room_id=room.id,
                user_id=item.user_id,
            )
        elif isinstance(item, store.NumberBet):
            await _NUMBER_BET.execute(connection, pull=item.pull_number, bet=item.bet_id)
        else:
            await _SETTLE_BET.execute(
                connection, new_status=item.status, win=item.payout, now=now, bet=item.bet_id
            )
