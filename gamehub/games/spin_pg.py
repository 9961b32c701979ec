"""A spin on PostgreSQL in one statement, its outcome computed in Python and guarded by the pair
it assumed; a failed guard writes nothing and the spin is recomputed (docs/ARCHITECTURE.md)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace

import asyncpg

from gamehub import ledger, ledger_pg, taxes
from gamehub.auth.service import LIVE_LOGIN_SQL, SessionRevoked
from gamehub.auth.tokens import AccessClaims
from gamehub.balances import Balance, combine, in_escrow_sql
from gamehub.db import utcnow
from gamehub.errors import Conflict, InsufficientFunds
from gamehub.games import seed_pairs
from gamehub.games.catalogue import SpinTable
from gamehub.games.wheel import decimal_text
from gamehub.ledger_pg import bet_and_payout
from gamehub.pg import RawPool, Sql
from gamehub.runtime import Runtime
from gamehub.userstream import publish_wallet_balance

# A player's pairs cached per process; beyond this many players the oldest are forgotten.
MAX_REMEMBERED = 100_000
# Guards fail only when another instance spins for the same player at the same moment.
MAX_ATTEMPTS = 20
_SPINNERS_KEY = "games.spinners"


class AlreadyPlayed(Exception):
    """The request's scope already made its spin (a retry after a crash)."""


@dataclass(frozen=True)
class Pair:
    """What a spin needs of the player: their active pair at its next nonce, and their wallet."""

    pair_id: int
    server_seed: str
    server_seed_hash: str
    client_seed: str
    next_nonce: int
    wallet: int | None  # None until the player's first deposit opens it


@dataclass(frozen=True)
class Spun:
    bet_id: int
    segment: int
    win: int
    tax: int  # withheld from the win
    balance: Balance
    pair: Pair  # as it was for this spin (its next_nonce is the spin's nonce)


_READ_PAIR = Sql(
    """
    SELECT p.id, p.server_seed, p.server_seed_hash, p.client_seed, p.next_nonce, a.id
    FROM fairness_seed_pairs p LEFT JOIN ledger_accounts a ON a.user_id = p.user_id
    WHERE p.user_id = :user_id AND p.status = 'active'
    """
)


def _spin_sql(withholding: bool) -> Sql:
    """The spin's statement, with or without the tax on its winnings; only constant SQL is
    spliced into the text, every value travels as a parameter."""
    tax_column, tax_value = (", tax_withheld", ", :tax") if withholding else ("", "")
    return Sql(
        f"""
    WITH pair AS (
        SELECT id FROM fairness_seed_pairs
        WHERE id = :pair_id AND next_nonce = :nonce AND client_seed = :client_seed
          AND status = 'active' AND {LIVE_LOGIN_SQL}
        FOR NO KEY UPDATE
    ),
    {bet_and_payout(gate="pair", withholding=withholding)},
    advance AS (
        UPDATE fairness_seed_pairs SET next_nonce = next_nonce + 1
        WHERE id = :pair_id AND EXISTS (SELECT FROM debit)
    ),
    game AS (
        INSERT INTO game_sessions (game_id, user_id, status, started_at, ended_at)
        SELECT :game_id, :user_id, 'finished', :now, :now FROM debit
        RETURNING id
    ),
    spin AS (
        INSERT INTO spin_and_win
            (game_session_id, user_id, bet_amount, win_amount, segment, multiplier,
             server_seed_hash, client_seed, nonce, request_ref, created_at)
        SELECT id, :user_id, :bet, :win, :segment, :multiplier,
               :server_seed_hash, :client_seed, :nonce, :request_ref, :now
        FROM game
    ),
    bet AS (
        INSERT INTO bet_history
            (user_id, game_id, game_session_id, bet_type, bet_amount, win_amount, status,
             created_at, settled_at{tax_column})
        SELECT :user_id, :game_id, id, 'spin', :bet, :win, :status, :now, :now{tax_value} FROM game
        RETURNING id
    )
    SELECT {LIVE_LOGIN_SQL} AS live,
           EXISTS (SELECT FROM pair) AS drawn,
           (SELECT id FROM bet) AS bet_id,
           (SELECT balance FROM debit) AS balance,
           (SELECT held FROM debit) AS held,
           {in_escrow_sql("user_id")} AS escrowed
    """  # noqa: S608
    )


# Most spins withhold nothing (the tax is off, not in force yet, or the spin won no more than
# its stake): they run the statement without the withholding, unchanged.
_SPIN = _spin_sql(withholding=False)
_SPIN_WITHHOLDING = _spin_sql(withholding=True)


@dataclass(frozen=True)
class Withholding:
    """The withholding on winnings: the dated rates, and the player's tax account."""

    rates: tuple[taxes.TaxRate, ...]
    account: int


class Spinners:
    """Each player's seed pair as this process last saw it, and their turn: one player's spins
    queue here instead of failing each other's guards."""

    def __init__(self) -> None:
        self._pairs: dict[int, Pair] = {}
        self._turns: dict[int, tuple[asyncio.Lock, list[int]]] = {}

    @asynccontextmanager
    async def turn(self, user_id: int) -> AsyncIterator[None]:
        lock, waiting = self._turns.setdefault(user_id, (asyncio.Lock(), [0]))
        waiting[0] += 1
        try:
            async with lock:
                yield
        finally:
            waiting[0] -= 1
            if waiting[0] == 0:
                del self._turns[user_id]

    async def pair(self, rt: Runtime, pool: RawPool, user_id: int) -> Pair:
        found = self._pairs.get(user_id)
        if found is not None:
            return found
        row = await pool.fetchrow(_READ_PAIR, {"user_id": user_id})
        if row is None:  # pairs are opened on first use
            await seed_pairs.current(rt.sessions, user_id)
            row = await pool.fetchrow(_READ_PAIR, {"user_id": user_id})
            assert row is not None
        if len(self._pairs) >= MAX_REMEMBERED:
            del self._pairs[next(iter(self._pairs))]
        found = self._pairs[user_id] = Pair(*row)
        return found

    def advanced(self, user_id: int, pair: Pair) -> None:
        self._pairs[user_id] = replace(pair, next_nonce=pair.next_nonce + 1)

    def forget(self, user_id: int) -> None:
        self._pairs.pop(user_id, None)


def spinners(rt: Runtime) -> Spinners:
    found = rt.extras.get(_SPINNERS_KEY)
    if not isinstance(found, Spinners):
        found = rt.extras[_SPINNERS_KEY] = Spinners()
    return found


async def spin(
    rt: Runtime,
    pool: RawPool,
    table: SpinTable,
    house: int,
    login: AccessClaims,
    bet: int,
    scope: str | None,
    withholding: Withholding | None = None,
) -> Spun:
    """One spin in one statement, which also checks that the login is still live; raises
    SessionRevoked or InsufficientFunds (nothing written) or AlreadyPlayed."""
    user_id = login.user_id
    memory = spinners(rt)
    async with memory.turn(user_id):
        for _ in range(MAX_ATTEMPTS):
            pair = await memory.pair(rt, pool, user_id)
            if pair.wallet is None:
                memory.forget(user_id)  # a first deposit will open the wallet
                raise InsufficientFunds()
            segment = table.wheel.land(pair.server_seed, pair.client_seed, pair.next_nonce)
            win = table.wheel.payout(bet, segment)
            now = utcnow()
            tax = 0
            if withholding is not None:
                rate = taxes.rate_at(withholding.rates, now)
                tax = taxes.withholding_on(win, bet, rate)
            params = {
                "pair_id": pair.pair_id,
                "nonce": pair.next_nonce,
                "client_seed": pair.client_seed,
                "wallet": pair.wallet,
                "house": house,
                "bet": bet,
                "win": win,
                # Without a key the (pair, nonce) names the spin; with one, the key's scope
                # does, so that a retry finds the money it already moved.
                "reference": scope or f"spin:{pair.pair_id}:{pair.next_nonce}",
                "now": now,
                "game_id": table.game_id,
                "user_id": user_id,
                "family_id": login.family_id,
                "segment": segment,
                "multiplier": decimal_text(table.wheel.segments[segment].multiplier),
                "server_seed_hash": pair.server_seed_hash,
                "request_ref": scope,
                "status": "won" if win > 0 else "lost",
            }
            statement = _SPIN
            if tax > 0:
                assert withholding is not None
                statement = _SPIN_WITHHOLDING
                params.update(tax=tax, tax_account=withholding.account)
            stake = ledger.TransferSpec(
                f"{params['reference']}:bet", "bet", pair.wallet, house, bet
            )
            try:
                row = await pool.fetchrow(statement, params)
            except asyncpg.UniqueViolationError as error:
                if scope is None:
                    raise
                if ledger_pg.reference_used(error) and not await _played(pool, stake):
                    raise
                raise AlreadyPlayed() from None
            assert row is not None
            if not row["live"]:
                raise SessionRevoked()
            if not row["drawn"]:
                memory.forget(user_id)  # the pair moved on elsewhere: read it again
                continue
            if row["bet_id"] is None:
                # The wallet cannot cover the bet now; a retry whose spin was made before
                # (and spent the money) is answered from that spin all the same.
                if scope is not None and await _played(pool, stake):
                    raise AlreadyPlayed()
                raise InsufficientFunds()
            memory.advanced(user_id, pair)
            balance = combine(row["balance"], row["held"], row["escrowed"])
            # Published within the player's turn, so their streams see balances in order.
            await publish_wallet_balance(rt.broker, user_id, balance)
            return Spun(row["bet_id"], segment, win, tax, balance, pair)
    raise Conflict("Too many spins at once for this player; try again.", code="spin_busy")


async def _played(pool: RawPool, stake: ledger.TransferSpec) -> bool:
    """The ledger's one meaning of a reference seen again: the same bet is "already played",
    another bet under it is ReferenceReused, none is False."""
    async with pool.connection() as connection:
        return await ledger_pg.already_done(connection, [stake])
