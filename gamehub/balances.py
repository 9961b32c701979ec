"""What a player sees of their money: the wallet plus stakes and side bets in open rooms' escrow
(`held` includes them; `available` = balance - held)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    BindParameter,
    ScalarSelect,
    bindparam,
    cast,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from gamehub.models import Account, BetHistory
from gamehub.money import format_cents
from gamehub.pg import RawPool, Sql

IN_ESCROW = ("stake", "survival", "elimination")


@dataclass(frozen=True)
class Balance:
    balance: int
    held: int

    @property
    def available(self) -> int:
        return self.balance - self.held

    def render(self) -> dict[str, str]:
        return {
            "balance": format_cents(self.balance),
            "held": format_cents(self.held),
            "available": format_cents(self.available),
            "currency": "KES",
        }


def in_escrow(user_id: Any) -> ScalarSelect[Any]:
    """The player's stakes and side bets still in escrow, as a scalar subquery."""
    # SUM of BIGINT is NUMERIC on PostgreSQL; cents stay integers.
    return (
        select(cast(func.coalesce(func.sum(BetHistory.bet_amount), 0), BigInteger))
        .where(
            BetHistory.user_id == user_id,
            BetHistory.status == "pending",
            BetHistory.bet_type.in_(IN_ESCROW),
        )
        .scalar_subquery()
    )


def in_escrow_sql(user_param: str) -> str:
    """in_escrow as PostgreSQL text, the user being the `:name` parameter `user_param`."""
    return _in_escrow_text(f":{user_param}")


def _in_escrow_text(user: str) -> str:
    """in_escrow as PostgreSQL text, the user being the SQL expression `user`."""
    return str(
        in_escrow(literal_column(user)).compile(
            dialect=postgresql.dialect(),  # type: ignore[no-untyped-call]  # untyped upstream
            compile_kwargs={"literal_binds": True},
        )
    )


def combine(wallet_balance: int | None, wallet_held: int | None, escrowed: int | None) -> Balance:
    escrow = int(escrowed or 0)
    return Balance(balance=(wallet_balance or 0) + escrow, held=(wallet_held or 0) + escrow)


_USER: BindParameter[int] = bindparam("user_id")
# Built once (keeping its cache key): it runs after every room command and spin.
_PLAYER_BALANCE = select(
    select(Account.balance).where(Account.user_id == _USER).scalar_subquery(),
    select(Account.held).where(Account.user_id == _USER).scalar_subquery(),
    in_escrow(_USER),
)


async def player_balance(session: AsyncSession, user_id: int) -> Balance:
    row = (await session.execute(_PLAYER_BALANCE, {"user_id": user_id})).one()
    return combine(row[0], row[1], row[2])


_PLAYER_BALANCE_PG = Sql.compiled(_PLAYER_BALANCE, "user_id")


async def player_balance_pg(pool: RawPool, user_id: int) -> Balance:
    """player_balance on the bare PostgreSQL driver (gamehub/pg.py)."""
    row = await pool.fetchrow(_PLAYER_BALANCE_PG, {"user_id": user_id})
    assert row is not None
    return combine(row[0], row[1], row[2])


# Many players in one round trip (wallet events after room commands, gamehub/walletnews.py).
_PLAYER_BALANCES_PG = Sql(
    f"""
    SELECT u.id,
        (SELECT balance FROM ledger_accounts WHERE user_id = u.id),
        (SELECT held FROM ledger_accounts WHERE user_id = u.id),
        {_in_escrow_text("u.id")}
    FROM unnest(:user_ids::bigint[]) AS u(id)
    """  # noqa: S608  # constant SQL only
)


async def player_balances_pg(pool: RawPool, user_ids: list[int]) -> dict[int, Balance]:
    async with pool.connection() as connection:
        rows = await _PLAYER_BALANCES_PG.fetch(connection, user_ids=user_ids)
    return {int(row[0]): combine(row[1], row[2], row[3]) for row in rows}
