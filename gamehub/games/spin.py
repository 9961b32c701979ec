"""Spin and Win around its one statement (spin_pg.py): the limits, the answer and the replay of a
keyed request that already spun."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from gamehub.auth.tokens import AccessClaims
from gamehub.balances import player_balance
from gamehub.errors import ApiError, Conflict
from gamehub.games import spin_pg
from gamehub.games.catalogue import SpinTable, spin_table
from gamehub.games.house import house_account, withholding_account
from gamehub.models import BetHistory, SpinAndWin
from gamehub.money import format_cents
from gamehub.runtime import Runtime


class BetOutOfLimits(ApiError):
    status, code, message = 422, "bet_out_of_limits", "The bet is outside the game's limits."


@dataclass(frozen=True)
class SpinResult:
    bet_id: int
    segment: int
    label: str
    multiplier: Decimal
    bet_amount: int
    win_amount: int
    tax_withheld: int  # from win_amount, paid to the tax authority (0 when none)
    new_balance: int
    server_seed_hash: str
    client_seed: str
    nonce: int


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
    """Spin once for `bet` cents if the login is still live (the route checked only the token);
    a retry under the same `scope` gets the committed spin back instead of a new one."""
    user_id = login.user_id
    table = await spin_table(rt)
    check_limits(table, bet)
    house = await house_account(rt, user_id)
    withholding = None
    if rates := rt.settings.tax_winnings_withholding:
        withholding = spin_pg.Withholding(rates, await withholding_account(rt, user_id))
    try:
        spun = await spin_pg.spin(rt, rt.pg, table, house, login, bet, scope, withholding)
    except spin_pg.AlreadyPlayed:
        assert scope is not None
        return await _replay(rt, table, user_id, scope)
    return _result(table, bet, spun)


def _result(table: SpinTable, bet: int, spun: spin_pg.Spun) -> SpinResult:
    segment = table.wheel.segments[spun.segment]
    return SpinResult(
        bet_id=spun.bet_id,
        segment=spun.segment,
        label=segment.label,
        multiplier=segment.multiplier,
        bet_amount=bet,
        win_amount=spun.win,
        tax_withheld=spun.tax,
        new_balance=spun.balance.balance,
        server_seed_hash=spun.pair.server_seed_hash,
        client_seed=spun.pair.client_seed,
        nonce=spun.pair.next_nonce,
    )


async def _replay(rt: Runtime, table: SpinTable, user_id: int, scope: str) -> SpinResult:
    """The spin an earlier attempt of this request committed (its process died before it could
    answer). The balance is today's: the earlier answer was never delivered."""
    async with rt.sessions() as session:
        row = (
            await session.execute(
                select(SpinAndWin, BetHistory.id, BetHistory.tax_withheld)
                .join(BetHistory, BetHistory.game_session_id == SpinAndWin.game_session_id)
                .where(SpinAndWin.request_ref == scope, SpinAndWin.user_id == user_id)
            )
        ).one_or_none()
        wallet = await player_balance(session, user_id)
    if row is None:
        raise Conflict(
            "This request's bet was taken but its spin is missing.", code="spin_inconsistent"
        )
    spin, bet_id, tax_withheld = row
    segments = table.wheel.segments
    return SpinResult(
        bet_id=bet_id,
        segment=spin.segment,
        label=segments[spin.segment].label if spin.segment < len(segments) else "",
        multiplier=Decimal(spin.multiplier),
        bet_amount=spin.bet_amount,
        win_amount=spin.win_amount,
        tax_withheld=tax_withheld,
        new_balance=wallet.balance,
        server_seed_hash=spin.server_seed_hash,
        client_seed=spin.client_seed,
        nonce=spin.nonce,
    )
