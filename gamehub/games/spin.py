"""Spin and Win: one spin is one database transaction that takes the pair's next nonce, moves
the bet and the win through the ledger and records the spin and the bet. On PostgreSQL that
transaction is a single statement (spin_pg.py); elsewhere it is the ledger's session form here."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from gamehub import ledger
from gamehub.auth.service import check_login
from gamehub.auth.tokens import AccessClaims
from gamehub.balances import in_escrow, player_balance
from gamehub.db import transaction, utcnow
from gamehub.errors import ApiError, Conflict
from gamehub.games import seed_pairs, spin_pg
from gamehub.games.catalogue import SpinTable, spin_table
from gamehub.games.house import house_account
from gamehub.games.wheel import decimal_text
from gamehub.models import Account, BetHistory, GameSession, SpinAndWin
from gamehub.money import format_cents
from gamehub.runtime import Runtime
from gamehub.userstream import publish_wallet


class BetOutOfLimits(ApiError):
    status, code, message = 422, "bet_out_of_limits", "The bet is outside the game's limits."


class _AlreadyPlayed(Exception):
    """The request's scope already made its spin: roll back and answer with that spin."""


@dataclass(frozen=True)
class SpinResult:
    bet_id: int
    segment: int
    label: str
    multiplier: Decimal
    bet_amount: int
    win_amount: int
    new_balance: int
    server_seed_hash: str
    client_seed: str
    nonce: int


# The spin's statements, built once (building them costs more CPU than running them).
_NEW_GAME_SESSION = insert(GameSession).returning(GameSession.id)
_NEW_SPIN = insert(SpinAndWin)
# The wallet row is locked by the spin's transaction, so the balance read here is the final
# one; like the profile's, it counts the player's stakes and side bets in escrow.
_NEW_BET = insert(BetHistory).returning(
    BetHistory.id,
    select(Account.balance).where(Account.id == bindparam("balance_wallet")).scalar_subquery()
    + in_escrow(bindparam("balance_user")),
)


def check_limits(table: SpinTable, bet: int) -> None:
    if not table.min_bet <= bet <= table.max_bet:
        raise BetOutOfLimits(
            f"Bets are {format_cents(table.min_bet)} to {format_cents(table.max_bet)}.",
            details={
                "min_bet": format_cents(table.min_bet),
                "max_bet": format_cents(table.max_bet),
                "bet_amount": format_cents(bet),
            },
        )


async def play(rt: Runtime, login: AccessClaims, bet: int, scope: str | None) -> SpinResult:
    """Spin once for `bet` cents if the login is still live (the route checked only the token).
    `scope` names the request across retries (Idempotency-Key): a retry of a request that
    committed gets that spin back instead of a new one."""
    user_id = login.user_id
    table = await spin_table(rt)
    check_limits(table, bet)
    house = await house_account(rt, user_id)
    if rt.pg is not None:
        try:
            spun = await spin_pg.spin(rt, rt.pg, table, house, login, bet, scope)
        except spin_pg.AlreadyPlayed:
            assert scope is not None
            return await _replay(rt, table, user_id, scope)
        return _result(table, bet, spun)
    await check_login(rt, login)
    try:
        async with transaction(rt.sessions) as session:
            result = await _spin(session, table, house, user_id, bet, scope)
    except _AlreadyPlayed:
        assert scope is not None
        return await _replay(rt, table, user_id, scope)
    # The player's other tabs and devices see the new balance on their stream.
    await publish_wallet(rt.broker, rt.readers, user_id)
    return result


def _result(table: SpinTable, bet: int, spun: spin_pg.Spun) -> SpinResult:
    segment = table.wheel.segments[spun.segment]
    return SpinResult(
        bet_id=spun.bet_id,
        segment=spun.segment,
        label=segment.label,
        multiplier=segment.multiplier,
        bet_amount=bet,
        win_amount=spun.win,
        new_balance=spun.balance.balance,
        server_seed_hash=spun.pair.server_seed_hash,
        client_seed=spun.pair.client_seed,
        nonce=spun.pair.next_nonce,
    )


async def _spin(
    session: AsyncSession,
    table: SpinTable,
    house: int,
    user_id: int,
    bet: int,
    scope: str | None,
) -> SpinResult:
    draw = await seed_pairs.take_nonce(session, user_id)
    segment = table.wheel.land(draw.server_seed, draw.client_seed, draw.nonce)
    win = table.wheel.payout(bet, segment)

    wallet = await ledger.open_wallet(session, user_id)
    # Without a key the (pair, nonce) names the spin; with one, the key's scope does, so that a
    # retry finds the money it already moved (and _AlreadyPlayed answers with that spin).
    reference = scope or f"spin:{draw.pair_id}:{draw.nonce}"
    moves = [ledger.TransferSpec(f"{reference}:bet", "bet", wallet, house, bet)]
    if win > 0:
        moves.append(ledger.TransferSpec(f"{reference}:payout", "payout", house, wallet, win))
    if not await ledger.transfer_many(session, moves):
        raise _AlreadyPlayed()

    now = utcnow()
    game_session_id = (
        await session.execute(
            _NEW_GAME_SESSION,
            {
                "game_id": table.game_id,
                "user_id": user_id,
                "status": "finished",
                "started_at": now,
                "ended_at": now,
            },
        )
    ).scalar_one()
    multiplier = table.wheel.segments[segment].multiplier
    await session.execute(
        _NEW_SPIN,
        {
            "game_session_id": game_session_id,
            "user_id": user_id,
            "bet_amount": bet,
            "win_amount": win,
            "segment": segment,
            "multiplier": decimal_text(multiplier),
            "server_seed_hash": draw.server_seed_hash,
            "client_seed": draw.client_seed,
            "nonce": draw.nonce,
            "request_ref": scope,
            "created_at": now,
        },
    )
    bet_id, new_balance = (
        await session.execute(
            _NEW_BET,
            {
                "user_id": user_id,
                "game_id": table.game_id,
                "game_session_id": game_session_id,
                "room_id": None,
                "bet_type": "spin",
                "pull_number": None,
                "bet_amount": bet,
                "win_amount": win,
                "status": "won" if win > 0 else "lost",
                "created_at": now,
                "settled_at": now,
                "balance_wallet": wallet,
                "balance_user": user_id,
            },
        )
    ).one()
    return SpinResult(
        bet_id=bet_id,
        segment=segment,
        label=table.wheel.segments[segment].label,
        multiplier=multiplier,
        bet_amount=bet,
        win_amount=win,
        new_balance=new_balance,
        server_seed_hash=draw.server_seed_hash,
        client_seed=draw.client_seed,
        nonce=draw.nonce,
    )


async def _replay(rt: Runtime, table: SpinTable, user_id: int, scope: str) -> SpinResult:
    """The spin an earlier attempt of this request committed (its process died before it could
    answer). The balance is today's: the earlier answer was never delivered."""
    async with rt.sessions() as session:
        row = (
            await session.execute(
                select(SpinAndWin, BetHistory.id)
                .join(BetHistory, BetHistory.game_session_id == SpinAndWin.game_session_id)
                .where(SpinAndWin.request_ref == scope, SpinAndWin.user_id == user_id)
            )
        ).one_or_none()
        wallet = await player_balance(session, user_id)
    if row is None:
        raise Conflict(
            "This request's bet was taken but its spin is missing.", code="spin_inconsistent"
        )
    spin, bet_id = row
    segments = table.wheel.segments
    return SpinResult(
        bet_id=bet_id,
        segment=spin.segment,
        label=segments[spin.segment].label if spin.segment < len(segments) else "",
        multiplier=Decimal(spin.multiplier),
        bet_amount=spin.bet_amount,
        win_amount=spin.win_amount,
        new_balance=wallet.balance,
        server_seed_hash=spin.server_seed_hash,
        client_seed=spin.client_seed,
        nonce=spin.nonce,
    )
