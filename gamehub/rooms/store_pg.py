"""A room's writes on the bare PostgreSQL driver: what store.plan decides as one statement
guarded by the room's seq (alone or in a locked transaction), and the statements opening a room."""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import asyncpg

from gamehub import ledger, ledger_pg
from gamehub.auth.service import LIVE_LOGIN_SQL, SessionRevoked
from gamehub.auth.tokens import AccessClaims
from gamehub.errors import Conflict, InsufficientFunds
from gamehub.pg import Connection, RawPool, Sql
from gamehub.rooms import store
from gamehub.rooms.game import RoomGame

_LOCK_ROOM = Sql(
    """
    SELECT id, game_id, seq, state::text, ended_at FROM multiplayer
    WHERE id = :room FOR UPDATE
    """
)
# The same row unlocked: the catch-up read of an actor whose room moved on elsewhere.
_READ_ROOM = Sql("SELECT id, game_id, seq, state::text, ended_at FROM multiplayer WHERE id = :room")
_TAKE_SEAT = Sql(
    """
    INSERT INTO active_seats (user_id, room_id, created_at) VALUES (:user_id, :room_id, :now)
    ON CONFLICT (user_id) DO NOTHING
    RETURNING user_id
    """
)
_SEATED_ROOM = Sql("SELECT room_id FROM active_seats WHERE user_id = :user_id")
# Migration 0013: whether no room of the game and stake waits with a free seat, asked under a
# lock of them that lasts until the opening statement commits.
_MAY_OPEN = "gamehub_may_open_room(:game_id, :stake)"
_MAY_OPEN_ROOM = Sql(f"SELECT {_MAY_OPEN}")


class SomeoneWaiting(Exception):
    """A room of this game and stake waits with a free seat (opened on another instance)."""


# No login to check (NULL), or that login is neither logged out nor revoked.
_LIVE_LOGIN = f"(CAST(:family_id AS TEXT) IS NULL OR {LIVE_LOGIN_SQL})"
_LOGIN_LIVE = Sql(f"SELECT {LIVE_LOGIN_SQL}")

# The statement's own refusal (migration 0006): it undoes everything the statement wrote.
REFUSED = "GH409"


class Refused(Exception):
    """The statement refused itself and wrote nothing: a wallet could not pay, or the seat is
    taken."""


@contextlib.contextmanager
def _refusal() -> Iterator[None]:
    """gamehub_refuse() as Refused, a reused transfer reference as ReferenceReused: the seq
    guard stops a command done before, so a reference seen again names another operation."""
    try:
        yield
    except asyncpg.PostgresError as error:
        if getattr(error, "sqlstate", None) == REFUSED:
            raise Refused() from error
        if ledger_pg.reference_used(error):
            raise ledger.ReferenceReused() from error
        raise


# Everything a message writes, in one statement guarded by the room's seq as the message found
# it (a room moved on by another instance writes nothing). When a wallet cannot pay (`moved`
# has fewer accounts than given) or the seat is taken it calls gamehub_refuse() and nothing
# stays. Locks as in a transaction: the room, then the accounts in id order. Only constant SQL
# is spliced in. It holds only the parts a message needs: PostgreSQL sets up every part of a
# statement, gated off or not (a fifth of its CPU on the room bench).
_SAVE_PARTS: dict[str, str] = {
    "room": f"""
    room AS (
        UPDATE multiplayer SET seq = :seq, status = :status, seats_taken = :seats_taken,
            state = :state::json, deadline_at = :deadline_at, ended_at = :ended_at
        WHERE id = :room AND seq = :seen_seq AND {_LIVE_LOGIN}
        RETURNING id
    )""",  # noqa: S608  (constant SQL only)
    "money": ledger_pg.batch(gate="room"),
    "seat": """
    seat AS (
        INSERT INTO active_seats (user_id, room_id, created_at)
        SELECT CAST(:seat_user AS BIGINT), :room, :now::timestamptz
        WHERE EXISTS (SELECT FROM room)
        ON CONFLICT (user_id) DO NOTHING
        RETURNING user_id
    )""",
    "events": """
    events AS (
        INSERT INTO room_events (room_id, seq, type, data, created_at)
        SELECT :room, e.*, :now::timestamptz
        FROM unnest(:seqs::bigint[], :types::text[], :datas::text[]) AS e
        WHERE EXISTS (SELECT FROM room)
    )""",
    "seats": """
    seats AS (
        DELETE FROM active_seats
        WHERE room_id = :room AND NOT (user_id = ANY(:kept::bigint[]))
          AND EXISTS (SELECT FROM room)
    )""",
}
# What refuses the statement, by part: a wallet that could not pay, a seat that was taken.
_REFUSALS = {
    "money": "(SELECT count(*) FROM moved) <> cardinality(:account_ids::bigint[])",
    "seat": "NOT EXISTS (SELECT FROM seat)",
}


@functools.cache
def _save_sql(game: RoomGame[Any], parts: frozenset[str]) -> Sql:
    """The saving statement with only `parts` (of _SAVE_PARTS and the game's save_parts), in a
    fixed order: a handful of combinations, each prepared once per connection."""
    ctes = ",".join(
        text for name, text in (*_SAVE_PARTS.items(), *game.save_parts.items()) if name in parts
    )
    refusals = " OR ".join(f"({_REFUSALS[name]})" for name in _REFUSALS if name in parts)
    refused = (
        f"CASE WHEN EXISTS (SELECT FROM room) AND ({refusals}) "
        "THEN gamehub_refuse('a wallet cannot pay or the seat is taken') END"
        if refusals
        else "NULL"
    )
    return Sql(
        f"WITH {ctes}\n"
        f"SELECT EXISTS (SELECT FROM room) AS saved, {_LIVE_LOGIN} AS live, {refused} AS refused"
    )


@functools.cache
def _open_seated_sql(game: RoomGame[Any], parts: frozenset[str]) -> Sql:
    """A room opened and its first player seated in one statement: the room row as store.plan
    leaves it after the join, the game's rows, the seat, the events, and the stake moved into
    the new escrow (ledger_pg.into_new_account). Locks only the wallet; gamehub_refuse() undoes
    it all when the wallet cannot pay or the player sits elsewhere."""
    room = f"""
    room AS (
        INSERT INTO multiplayer
            (id, game_id, status, stake, seats_taken, seq, state, deadline_at, created_at)
        SELECT :room, :game_id, :status, :stake, :seats_taken, :seq, :state::json,
            :deadline_at, :now
        WHERE {_LIVE_LOGIN} AND {_MAY_OPEN}
        RETURNING id
    )"""
    seat_and_events = """
    seat AS (
        INSERT INTO active_seats (user_id, room_id, created_at)
        SELECT :seat_user, room.id, :now FROM room
        ON CONFLICT (user_id) DO NOTHING
        RETURNING user_id
    ), events AS (
        INSERT INTO room_events (room_id, seq, type, data, created_at)
        SELECT room.id, e.*, :now::timestamptz
        FROM room, unnest(:seqs::bigint[], :types::text[], :datas::text[]) AS e
    )"""
    assert not parts & game.open_parts.keys(), "a first join's rows must not rename a new room's"
    joined = (text for name, text in game.save_parts.items() if name in parts)
    ctes = (room, *game.open_parts.values(), ledger_pg.into_new_account(gate="room"))
    return Sql(
        f"""
    WITH {",".join((*ctes, seat_and_events, *joined))}
    SELECT (SELECT id FROM opened) AS escrow, {_LIVE_LOGIN} AS live,
        EXISTS (SELECT FROM room) AS opened_room,
        CASE WHEN EXISTS (SELECT FROM room)
                AND (NOT EXISTS (SELECT FROM paid) OR NOT EXISTS (SELECT FROM seat))
            THEN gamehub_refuse('the wallet cannot pay the stake or the player sits elsewhere')
        END AS refused
    """  # noqa: S608  (constant SQL only)
    )


@functools.cache
def _open_empty_sql(game: RoomGame[Any]) -> Sql:
    """The room, the game's rows of a new room and its empty escrow account, in one statement."""
    room = """
    room AS (
        INSERT INTO multiplayer (game_id, status, stake, seats_taken, seq, created_at)
        VALUES (:game_id, 'waiting', :stake, 0, 0, :now)
        RETURNING id
    )"""
    escrow = ledger_pg.open_empty_escrow(gate="room", prefix_param="escrow_prefix")
    ctes = ",".join((room, *game.open_parts.values(), escrow))
    return Sql(f"WITH {ctes}\nSELECT room.id, opened.id FROM room, opened")


class SequenceIds:
    """Ids taken from a table's sequence a batch per round trip, for rows whose id is needed
    before their insert (a room's is in its state, events and escrow code; a side bet's in its
    event). Ids never used are gaps, as a rolled-back insert leaves."""

    BATCH = 32

    def __init__(self, table: str) -> None:
        self._sql = Sql(
            f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) "  # noqa: S608
            "FROM generate_series(1, :n)"
        )
        self._ids: list[int] = []

    async def take(self, pool: RawPool) -> int:
        if not self._ids:
            async with pool.connection() as connection:
                rows = await self._sql.fetch(connection, n=self.BATCH)
            self._ids = sorted((int(row[0]) for row in rows), reverse=True)
        return self._ids.pop()


async def open_seated(
    pool: RawPool,
    game: RoomGame[Any],
    writes: store.Writes,
    stake: int,
    move: ledger.TransferSpec,
    seat: int,
    login: AccessClaims | None,
) -> tuple[int | None, bool]:
    """_open_seated_sql for a new room's first join and its one transfer `move`: (the escrow's
    id, login live), the id None when nothing was written; Refused or SomeoneWaiting too."""
    rows = writes.rows
    params = {
        **_room_params(writes, login, seat),
        **rows.params,
        "stake": stake,
        **ledger_pg.into_new_account_params(move, store.escrow_code(writes.room.id)),
    }
    async with pool.connection() as connection:
        with _refusal():
            row = await _open_seated_sql(game, rows.parts).fetchrow(connection, **params)
    assert row is not None
    if row["live"] and not row["opened_room"]:
        raise SomeoneWaiting()
    escrow = None if row["escrow"] is None else int(row["escrow"])
    return escrow, bool(row["live"])


def _room_of(row: asyncpg.Record | None) -> tuple[store.RoomRow, dict[str, Any]] | None:
    """A room row as the runtime reads it; None: no such room, or not opened yet."""
    if row is None or row[3] is None:
        return None
    return store.RoomRow(row[0], row[1], row[2], row[4]), json.loads(row[3])


async def check_login(connection: Connection, login: AccessClaims | None) -> None:
    """SessionRevoked unless this login (token family) is neither logged out nor revoked
    (None: no login to check)."""
    if login is None:
        return
    params = {"user_id": login.user_id, "family_id": login.family_id}
    if not await _LOGIN_LIVE.fetchval(connection, **params):
        raise SessionRevoked()


async def read_room(pool: RawPool, room_id: int) -> tuple[store.RoomRow, dict[str, Any]] | None:
    """The room's row and stored state as last committed, unlocked (see _READ_ROOM)."""
    return _room_of(await pool.fetchrow(_READ_ROOM, {"room": room_id}))


_SNAPSHOT = Sql.compiled(store.SNAPSHOT, "room")
_CANDIDATES = Sql.compiled(store.CANDIDATES, "game_id", "stake")


async def snapshot(pool: RawPool, room_id: int) -> tuple[int, dict[str, Any]] | None:
    """The room's seq and stored state (None: no such room, or not opened yet)."""
    row = await pool.fetchrow(_SNAPSHOT, {"room": room_id})
    if row is None or row[1] is None:
        return None
    return row[0], row[1] if isinstance(row[1], dict) else json.loads(row[1])


async def candidate_rooms(pool: RawPool, game_id: int, stake: int) -> list[int]:
    async with pool.connection() as connection:
        rows = await _CANDIDATES.fetch(connection, game_id=game_id, stake=stake)
    return [row[0] for row in rows]


def _room_params(
    writes: store.Writes, login: AccessClaims | None, seat: int | None
) -> dict[str, Any]:
    """What both room statements take: the room row, its events, the login and the seat."""
    return {
        "family_id": None if login is None else login.family_id,
        "user_id": None if login is None else login.user_id,
        "game_id": writes.room.game_id,
        "now": writes.now,
        **writes.room_values,
        "state": json.dumps(writes.room_values["state"]),
        "seat_user": seat,
        "seqs": [e.seq for e in writes.events],
        "types": [e.type for e in writes.events],
        "datas": [e.data for e in writes.events],
    }


def _save_parts(
    writes: store.Writes, moves: list[ledger.TransferSpec], seat: int | None
) -> frozenset[str]:
    """The parts of the saving statement these writes need (see _save_sql)."""
    wanted = {
        "room": True,
        "money": bool(moves),
        "seat": seat is not None,
        "events": bool(writes.events),
        "seats": writes.seats_kept is not None,
    }
    return frozenset(name for name, needed in wanted.items() if needed) | writes.rows.parts


async def _save(
    connection: Connection,
    game: RoomGame[Any],
    writes: store.Writes,
    moves: list[ledger.TransferSpec],
    login: AccessClaims | None = None,
    seat: int | None = None,
) -> asyncpg.Record:
    sql = _save_sql(game, _save_parts(writes, moves, seat))
    params = {
        **_room_params(writes, login, seat),
        **writes.rows.params,
        "seen_seq": writes.room.seq,
        **ledger_pg.batch_params(moves),
        "kept": list(writes.seats_kept or ()),
    }
    with _refusal():
        row = await sql.fetchrow(connection, **params)
    assert row is not None
    return row


async def save_guarded(
    pool: RawPool,
    game: RoomGame[Any],
    writes: store.Writes,
    login: AccessClaims | None,
    moves: list[ledger.TransferSpec] | None = None,
    seat: int | None = None,
) -> tuple[bool, bool]:
    """A message's writes as one statement outside any transaction, taking `seat` and checking
    `login` if given: (saved, login live); nothing is written when the room's seq moved on or
    the login ended; Refused when a wallet cannot pay or the seat is taken."""
    async with pool.connection() as connection:
        row = await _save(connection, game, writes, moves or [], login, seat)
    return bool(row["saved"]), bool(row["live"])


class PgRoomTx:
    """A message's transaction on a bare connection: the room row locked, the seat claimed, the
    writes (save_guarded's statement)."""

    def __init__(self, connection: Connection, accounts: store.AccountIds) -> None:
        self.connection = connection
        self.accounts = accounts
        # Accounts this transaction found or opened: known here, remembered by `accounts` only
        # once committed (Registry.transaction), since a rollback would take the opened away.
        self.opened: dict[str, int] = {}

    async def lock_room(self, room_id: int) -> tuple[store.RoomRow, dict[str, Any]] | None:
        """The room's row, locked, and its stored state; None: no such room (or not open)."""
        return _room_of(await _LOCK_ROOM.fetchrow(self.connection, room=room_id))

    async def open_room(
        self, game: RoomGame[Any], game_id: int, stake: int, now: datetime
    ) -> store.RoomRow:
        """Open an empty room (SomeoneWaiting if a room of this game and stake waits with a
        free seat; the check's lock is held until this transaction ends)."""
        if not await _MAY_OPEN_ROOM.fetchval(self.connection, game_id=game_id, stake=stake):
            raise SomeoneWaiting()
        row = await _open_empty_sql(game).fetchrow(
            self.connection,
            game_id=game_id,
            stake=stake,
            now=now,
            escrow_prefix=store.ESCROW_PREFIX,
        )
        assert row is not None
        room_id = int(row[0])
        self.opened[store.escrow_code(room_id)] = int(row[1])
        return store.RoomRow(room_id, game_id, 0, None)

    async def claim_seat(self, room_id: int, user_id: int | None, now: datetime) -> None:
        """Claim the user's one active seat (None: no one's); 409 already_seated if they sit in
        an open room."""
        if user_id is None:
            return
        if await _TAKE_SEAT.fetchval(self.connection, user_id=user_id, room_id=room_id, now=now):
            return
        seated = await _SEATED_ROOM.fetchval(self.connection, user_id=user_id)
        raise Conflict(
            "You already sit in a waiting or playing room.",
            code="already_seated",
            details={"room_id": 0 if seated is None else int(seated)},
        )

    async def _resolve(self, code: str, kind: str | None, user_id: int | None) -> int:
        """An account's id: remembered, or found or opened here (remembered once committed)."""
        found = self.opened.get(code) or self.accounts.known(code)
        if found is None:
            kind = kind or ledger.SYSTEM_ACCOUNTS[code]
            found = await ledger_pg.account_id(self.connection, code, kind, user_id=user_id)
            self.opened[code] = found
        return found

    async def save(self, game: RoomGame[Any], writes: store.Writes) -> store.Saved:
        moves = await store.transfer_specs(
            writes.room.id, writes.postings, game.kind_prefix, self._resolve
        )
        try:
            row = await _save(self.connection, game, writes, moves)
        except Refused:
            # The seat was claimed by claim_seat before: only money can refuse here.
            raise InsufficientFunds() from None  # the caller's transaction rolls back
        assert row["saved"], "the room is locked: its seq cannot have moved"
        return store.Saved(writes.events, writes.seq)
