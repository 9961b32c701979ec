"""A room command's writes on the bare PostgreSQL driver (gamehub/pg.py): what store.plan
decides, in a handful of cheap statements, inside a command's transaction or as one statement
alone."""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import asyncpg

from gamehub import ledger, ledger_pg
from gamehub.auth.service import LIVE_LOGIN_SQL
from gamehub.auth.tokens import AccessClaims
from gamehub.errors import InsufficientFunds
from gamehub.pg import Connection, RawPool, Sql
from gamehub.rooms import roulette, store

_LOCK_ROOM = Sql(
    """
    SELECT id, game_id, seq, state::text, ended_at FROM multiplayer
    WHERE id = :room FOR UPDATE
    """
)
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
        (user_id, game_id, room_id, bet_type, bet_amount, win_amount, status, request_ref,
         created_at)
    VALUES (:user_id, :game_id, :room_id, :bet_type, :amount, 0, 'pending', :request_ref, :now)
    RETURNING id
    """
)
# The room, its game session and match rows, and its escrow account, opened empty by
# ledger_pg's fragment (in the same statement, so the room costs one round trip).
_OPEN_ROOM = Sql(
    f"""
    WITH room AS (
        INSERT INTO multiplayer (game_id, status, stake, seats_taken, seq, created_at)
        VALUES (:game_id, 'waiting', :stake, 0, 0, :now)
        RETURNING id
    ), session AS (
        INSERT INTO game_sessions (game_id, user_id, status, started_at)
        VALUES (:game_id, NULL, 'waiting', :now)
        RETURNING id
    ), match AS (
        INSERT INTO russian_roulette (room_id, game_session_id, pull_number)
        SELECT room.id, session.id, 0 FROM room, session
    ), {ledger_pg.open_empty_escrow(gate="room", prefix_param="escrow_prefix")}
    SELECT room.id, opened.id FROM room, opened
    """  # noqa: S608  (constant SQL only)
)
# No login to check (NULL), or that login is neither logged out nor revoked.
_LIVE_LOGIN = f"(CAST(:family_id AS TEXT) IS NULL OR {LIVE_LOGIN_SQL})"
_LOGIN_LIVE = Sql(f"SELECT {LIVE_LOGIN_SQL}")

# The statement's own refusal (migration 0006): it undoes everything the statement wrote.
REFUSED = "GH409"


class Refused(Exception):
    """The statement refused itself and wrote nothing: a wallet could not pay, or the seat to
    take was someone's already."""


@contextlib.contextmanager
def _refusal() -> Iterator[None]:
    """A statement's gamehub_refuse() as Refused, and a transfer reference used again as the
    ledger's ReferenceReused: the statement is guarded by the room's seq, so a command done
    before writes nothing at all (not even its transfers); a reference that reaches the
    insert again therefore names another operation."""
    try:
        yield
    except asyncpg.PostgresError as error:
        if getattr(error, "sqlstate", None) == REFUSED:
            raise Refused() from error
        if ledger_pg.reference_used(error):
            raise ledger.ReferenceReused() from error
        raise


# Everything a command writes, in one statement, guarded by the room's seq as the command found
# it: inside a command's transaction the room is locked and the guard holds; alone (the actor's
# one-statement path) the guard is what makes a room moved on by another instance write
# nothing. The statement is all or nothing by itself: when a wallet cannot pay (`moved`, from
# ledger_pg.batch, has fewer accounts than given) or the seat to take is already someone's, it
# calls gamehub_refuse() and nothing of it stays. Locks are taken as in a command's
# transaction: the room first, then the accounts in id order. History: stakes open at a join
# and settle at the end, side bets are numbered and settled. The match's columns are written as
# store.plan gives them; the seed and the bullet only once the match is finished (COALESCE
# keeps them NULL until then). Only constant SQL is spliced into the text; every value travels
# as a parameter.
#
# The statement holds only the parts a command needs (_save_sql): a pull that clicks moves no
# money and settles nothing, and PostgreSQL would still set up (ExecutorStart) and run every
# part of a statement that had them all, gated off or not. Measured with perf on the room
# bench, setting up the plan was a fifth of PostgreSQL's CPU, and the unused parameters were
# encoded by the client on every command.
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
    "stakes_opened": """
    stakes_opened AS (
        INSERT INTO bet_history
            (user_id, game_id, room_id, bet_type, bet_amount, win_amount, status, request_ref,
             created_at)
        SELECT o.user_id, :game_id, :room, 'stake', o.amount, 0, 'pending', o.request_ref,
               :now::timestamptz
        FROM unnest(:open_users::bigint[], :open_amounts::bigint[], :open_refs::text[])
            AS o(user_id, amount, request_ref)
        WHERE EXISTS (SELECT FROM room)
    )""",
    "stakes_settled": """
    stakes_settled AS (
        UPDATE bet_history b
        SET status = s.status, win_amount = s.win, settled_at = :now::timestamptz
        FROM unnest(:settle_users::bigint[], :settle_statuses::text[], :settle_wins::bigint[])
            AS s(user_id, status, win)
        WHERE b.room_id = :room AND b.user_id = s.user_id AND b.bet_type = 'stake'
          AND b.status = 'pending' AND EXISTS (SELECT FROM room)
    )""",
    "bets_numbered": """
    bets_numbered AS (
        UPDATE bet_history b SET pull_number = n.pull
        FROM unnest(:numbered_bets::bigint[], :pulls::int[]) AS n(id, pull)
        WHERE b.id = n.id AND EXISTS (SELECT FROM room)
    )""",
    "bets_settled": """
    bets_settled AS (
        UPDATE bet_history b
        SET status = s.status, win_amount = s.payout, settled_at = :now::timestamptz
        FROM unnest(:settled_bets::bigint[], :bet_statuses::text[], :payouts::bigint[])
            AS s(id, status, payout)
        WHERE b.id = s.id AND EXISTS (SELECT FROM room)
    )""",
    "seats": """
    seats AS (
        DELETE FROM active_seats
        WHERE room_id = :room AND NOT (user_id = ANY(:kept::bigint[]))
          AND EXISTS (SELECT FROM room)
    )""",
    "match": """
    match AS (
        UPDATE russian_roulette SET
            server_seed_hash = :server_seed_hash, client_seed = :client_seed,
            first_shooter_seat = :first_shooter_seat, pull_number = :pull_number,
            turn_user_id = :turn_user_id, turn_deadline = :turn_deadline,
            winner_user_id = :winner_user_id,
            server_seed = COALESCE(:server_seed, server_seed),
            bullet = COALESCE(:bullet, bullet)
        WHERE room_id = :room AND EXISTS (SELECT FROM room)
        RETURNING game_session_id
    )""",
    "session": """
    session AS (
        UPDATE game_sessions SET status = :session_status, ended_at = :session_ended_at
        WHERE id = (SELECT game_session_id FROM match)
    )""",
}
# What refuses the statement, by part: a wallet that could not pay, a seat that was taken.
_REFUSALS = {
    "money": "(SELECT count(*) FROM moved) <> cardinality(:account_ids::bigint[])",
    "seat": "NOT EXISTS (SELECT FROM seat)",
}


@functools.cache
def _save_sql(parts: frozenset[str]) -> Sql:
    """The saving statement with only `parts` (names of _SAVE_PARTS; "room" is always in),
    in a fixed order. A handful of combinations occur (join, pull, bet, leave, timeouts),
    each prepared once per connection."""
    ctes = ",".join(_SAVE_PARTS[name] for name in _SAVE_PARTS if name in parts)
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


# A room opened and its first player seated, all in one statement (no transaction): the room
# row is inserted as store.plan leaves it after the join (its id taken from the sequence
# beforehand, see RoomIds), with its game session and match rows, the player's seat, the
# stake moved from the wallet (guarded: only what is available) into the room's new escrow
# account (opened holding it) with its transfer (ledger_pg.into_new_account, which builds every
# ledger row of it), the stake's bet row and the join's events. Locks:
# the wallet only (the room and its escrow are new). gamehub_refuse() undoes it all when the
# wallet cannot pay or the player sits elsewhere; the service then opens the room the
# transactional way, which explains the refusal.
_OPEN_AND_JOIN = Sql(
    f"""
    WITH room AS (
        INSERT INTO multiplayer
            (id, game_id, status, stake, seats_taken, seq, state, deadline_at, created_at)
        SELECT :room, :game_id, :status, :stake, :seats_taken, :seq, :state::json,
            :deadline_at, :now
        WHERE {_LIVE_LOGIN}
        RETURNING id
    ), session AS (
        INSERT INTO game_sessions (game_id, user_id, status, started_at)
        SELECT :game_id, NULL, 'waiting', :now FROM room
        RETURNING id
    ), match AS (
        INSERT INTO russian_roulette (room_id, game_session_id, pull_number)
        SELECT room.id, session.id, 0 FROM room, session
    ), {ledger_pg.into_new_account(gate="room")}, seat AS (
        INSERT INTO active_seats (user_id, room_id, created_at)
        SELECT :seat_user, room.id, :now FROM room
        ON CONFLICT (user_id) DO NOTHING
        RETURNING user_id
    ), stake AS (
        INSERT INTO bet_history
            (user_id, game_id, room_id, bet_type, bet_amount, win_amount, status, request_ref,
             created_at)
        SELECT :seat_user, :game_id, room.id, 'stake', :amount, 0, 'pending', :request_ref, :now
        FROM room
    ), events AS (
        INSERT INTO room_events (room_id, seq, type, data, created_at)
        SELECT room.id, e.*, :now::timestamptz
        FROM room, unnest(:seqs::bigint[], :types::text[], :datas::text[]) AS e
    )
    SELECT (SELECT id FROM opened) AS escrow, {_LIVE_LOGIN} AS live,
        CASE WHEN EXISTS (SELECT FROM room)
                AND (NOT EXISTS (SELECT FROM paid) OR NOT EXISTS (SELECT FROM seat))
            THEN gamehub_refuse('the wallet cannot pay the stake or the player sits elsewhere')
        END AS refused
    """  # noqa: S608
)
_NEXT_ROOM_IDS = Sql(
    "SELECT nextval(pg_get_serial_sequence('multiplayer', 'id')) FROM generate_series(1, :n)"
)


class RoomIds:
    """Room ids taken from the database's sequence a batch at a time (one round trip per
    batch): an opening statement needs its room's id before it is sent, since the id is in
    the room's state, its events and its escrow account's code. Ids a process never uses are
    gaps, as a rolled-back insert leaves."""

    BATCH = 32

    def __init__(self) -> None:
        self._ids: list[int] = []

    async def take(self, pool: RawPool) -> int:
        if not self._ids:
            async with pool.connection() as connection:
                rows = await _NEXT_ROOM_IDS.fetch(connection, n=self.BATCH)
            self._ids = sorted((int(row[0]) for row in rows), reverse=True)
        return self._ids.pop()


async def open_and_join(
    pool: RawPool,
    writes: store.Writes,
    move: ledger.TransferSpec,
    seat: int,
    login: AccessClaims | None,
) -> tuple[int | None, bool]:
    """_OPEN_AND_JOIN for the writes of a new room's first join, whose one transfer `move`
    takes the stake from the wallet into the escrow (its credit side is the new account):
    (the escrow account's id, login live); (None, False) wrote nothing. Refused: nothing was
    written."""
    params = {
        **_room_params(writes, login, seat),
        "stake": writes.room_values["state"]["stake"],
        **ledger_pg.into_new_account_params(move, store.escrow_code(writes.room.id)),
        "amount": move.amount,
        "request_ref": next(
            h.request_ref for h in writes.history if isinstance(h, store.OpenStake)
        ),
    }
    async with pool.connection() as connection:
        with _refusal():
            row = await _OPEN_AND_JOIN.fetchrow(connection, **params)
    assert row is not None
    escrow = None if row["escrow"] is None else int(row["escrow"])
    return escrow, bool(row["live"])


_NO_MATCH_CHANGES = {
    "server_seed_hash": None,
    "client_seed": None,
    "first_shooter_seat": None,
    "pull_number": None,
    "turn_user_id": None,
    "turn_deadline": None,
    "winner_user_id": None,
}


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


def _room_params(
    writes: store.Writes, login: AccessClaims | None, seat: int | None
) -> dict[str, Any]:
    """What both room statements take: the room row as the writes leave it, its events, the
    login to check (None: none) and the seat to take (None: none)."""
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


def _save_params(
    writes: store.Writes,
    moves: list[ledger.TransferSpec],
    login: AccessClaims | None = None,
    seat: int | None = None,
) -> dict[str, Any]:
    history = writes.history
    opened = [h for h in history if isinstance(h, store.OpenStake)]
    settled = [h for h in history if isinstance(h, store.SettleStake)]
    numbered = [h for h in history if isinstance(h, store.NumberBet)]
    bets = [h for h in history if isinstance(h, store.SettleBet)]
    session = writes.session_values or {}
    return {
        **_room_params(writes, login, seat),
        "seen_seq": writes.room.seq,
        **ledger_pg.batch_params(moves),
        "open_users": [h.user_id for h in opened],
        "open_amounts": [h.amount for h in opened],
        "open_refs": [h.request_ref for h in opened],
        "settle_users": [h.user_id for h in settled],
        "settle_statuses": [h.status for h in settled],
        "settle_wins": [h.win for h in settled],
        "numbered_bets": [h.bet_id for h in numbered],
        "pulls": [h.pull_number for h in numbered],
        "settled_bets": [h.bet_id for h in bets],
        "bet_statuses": [h.status for h in bets],
        "payouts": [h.payout for h in bets],
        "kept": list(writes.seats_kept or ()),
        "server_seed": None,
        "bullet": None,
        **(writes.match_values or _NO_MATCH_CHANGES),
        "session_status": session.get("status"),
        "session_ended_at": session.get("ended_at"),
    }


def _save_parts(
    writes: store.Writes, moves: list[ledger.TransferSpec], seat: int | None
) -> frozenset[str]:
    """The parts of the saving statement these writes need (see _save_sql)."""
    kinds = {type(h) for h in writes.history}
    wanted = {
        "room": True,
        "money": bool(moves),
        "seat": seat is not None,
        "events": bool(writes.events),
        "stakes_opened": store.OpenStake in kinds,
        "stakes_settled": store.SettleStake in kinds,
        "bets_numbered": store.NumberBet in kinds,
        "bets_settled": store.SettleBet in kinds,
        "seats": writes.seats_kept is not None,
        "match": writes.match_values is not None,
        "session": writes.session_values is not None,
    }
    # The session row is found through the match's (store.plan changes both together).
    assert wanted["match"] or not wanted["session"]
    return frozenset(name for name, needed in wanted.items() if needed)


async def _save(
    connection: Connection,
    writes: store.Writes,
    moves: list[ledger.TransferSpec],
    login: AccessClaims | None = None,
    seat: int | None = None,
) -> asyncpg.Record:
    sql = _save_sql(_save_parts(writes, moves, seat))
    with _refusal():
        row = await sql.fetchrow(connection, **_save_params(writes, moves, login, seat))
    assert row is not None
    return row


async def write_alone(
    pool: RawPool,
    writes: store.Writes,
    login: AccessClaims | None,
    moves: list[ledger.TransferSpec] | None = None,
    seat: int | None = None,
) -> tuple[bool, bool]:
    """A command's writes as one statement outside any transaction (it is atomic by itself),
    taking `seat` for that user if given and checking `login` if given: (saved, login live).
    Nothing is written when the room's seq is no longer the one they were planned from, or the
    login has ended; Refused when a wallet cannot pay or the seat is taken."""
    async with pool.connection() as connection:
        row = await _save(connection, writes, moves or [], login, seat)
    return bool(row["saved"]), bool(row["live"])


class PgRoomTx:
    """store.RoomTx on a bare connection inside a transaction."""

    def __init__(self, connection: Connection, accounts: store.AccountIds) -> None:
        self.connection = connection
        self.accounts = accounts
        # Accounts this transaction opened: known here, remembered by `accounts` only once
        # committed (Registry.transaction), since a rollback would take them away.
        self.opened: dict[str, int] = {}

    async def lock_room(self, room_id: int) -> store.RoomRow | None:
        row = await _LOCK_ROOM.fetchrow(self.connection, room=room_id)
        if row is None:
            return None
        state = None if row[3] is None else json.loads(row[3])
        return store.RoomRow(row[0], row[1], row[2], state, row[4])

    async def open_room(
        self, game_id: int, stake: int, config: roulette.RouletteConfig, now: datetime
    ) -> tuple[store.RoomRow, roulette.RoomState]:
        row = await _OPEN_ROOM.fetchrow(
            self.connection,
            game_id=game_id,
            stake=stake,
            now=now,
            escrow_prefix=store.ESCROW_PREFIX,
        )
        assert row is not None
        room_id = int(row[0])
        self.opened[store.escrow_code(room_id)] = int(row[1])
        state = roulette.new_room(room_id, stake, now, config)
        return store.RoomRow(room_id, game_id, 0, None, None), state

    async def take_seat(self, room_id: int, user_id: int, now: datetime) -> bool:
        taken = await _TAKE_SEAT.fetchval(
            self.connection, user_id=user_id, room_id=room_id, now=now
        )
        return taken is not None

    async def seated_room(self, user_id: int) -> int | None:
        found = await _SEATED_ROOM.fetchval(self.connection, user_id=user_id)
        return None if found is None else int(found)

    async def login_live(self, user_id: int, family_id: str) -> bool:
        return bool(
            await _LOGIN_LIVE.fetchval(self.connection, user_id=user_id, family_id=family_id)
        )

    async def new_side_bet(
        self,
        room: store.RoomRow,
        user_id: int,
        bet_type: str,
        amount: int,
        now: datetime,
        request_ref: str | None,
    ) -> int:
        return int(
            await _NEW_BET.fetchval(
                self.connection,
                user_id=user_id,
                game_id=room.game_id,
                room_id=room.id,
                bet_type=bet_type,
                amount=amount,
                request_ref=request_ref,
                now=now,
            )
        )

    async def _resolve(self, code: str, kind: str | None, user_id: int | None) -> int:
        if code in self.opened:
            return self.opened[code]

        async def find() -> int | None:
            return await ledger_pg.find_account(self.connection, code)

        async def open_() -> int:
            return await ledger_pg.account_id(
                self.connection, code, kind or ledger.SYSTEM_ACCOUNTS[code], user_id=user_id
            )

        return await self.accounts.get(code, find, open_)

    async def write(self, writes: store.Writes) -> store.Saved:
        moves, touched = await store.transfer_specs(writes.room.id, writes.postings, self._resolve)
        try:
            row = await _save(self.connection, writes, moves)
        except Refused:
            # The seat was taken by take_seat before: only money can refuse here.
            raise InsufficientFunds() from None  # the caller's transaction rolls back
        assert row["saved"], "the room is locked: its seq cannot have moved"
        return store.Saved(writes.events, touched, writes.seq)
