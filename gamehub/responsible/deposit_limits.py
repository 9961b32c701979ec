"""A player's own deposit limits per day, week and month (RULES.md, responsible play): each
decision a row; a lower limit is in force at once, a higher one or none only a day later."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import case, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gamehub.db import transaction, utcnow
from gamehub.errors import ApiError
from gamehub.models import DepositLimit, Transaction, User
from gamehub.money import format_cents

Period = Literal["day", "week", "month"]
WINDOWS: dict[Period, timedelta] = {
    "day": timedelta(hours=24),
    "week": timedelta(days=7),
    "month": timedelta(days=30),
}
RAISE_DELAY = timedelta(hours=24)


class PersonalDepositLimit(ApiError):
    status, code = 409, "deposit_limit"
    message = "This deposit would go over a deposit limit you set."


@dataclass(frozen=True)
class PeriodLimit:
    period: Period
    amount: int | None  # in force now; None: no limit
    next_amount: int | None = None  # a decision not yet in force
    next_from: datetime | None = None


async def limits(session: AsyncSession, user_id: int, now: datetime) -> dict[Period, PeriodLimit]:
    """Each period's limit in force, and the decision waiting to come into force, if any."""
    rows = (
        await session.scalars(
            select(DepositLimit)
            .where(DepositLimit.user_id == user_id)
            .order_by(DepositLimit.effective_from, DepositLimit.id)
        )
    ).all()
    found: dict[Period, PeriodLimit] = {period: PeriodLimit(period, None) for period in WINDOWS}
    for row in rows:  # oldest first: the latest decision in force, and the latest waiting, win
        period = cast(Period, row.period)  # the table allows no other
        if row.effective_from <= now:
            found[period] = replace(found[period], amount=row.amount)
        else:
            found[period] = replace(
                found[period], next_amount=row.amount, next_from=row.effective_from
            )
    return found


async def current(
    readers: async_sessionmaker[AsyncSession], user_id: int
) -> dict[Period, PeriodLimit]:
    async with readers() as session:
        return await limits(session, user_id, utcnow())


async def decide(
    sessions: async_sessionmaker[AsyncSession], user_id: int, changes: dict[Period, int | None]
) -> dict[Period, PeriodLimit]:
    """Record the player's decisions (None: no limit)."""
    async with transaction(sessions) as session:
        # A player's decisions and deposits queue on their row (deposits._record takes it too).
        await session.execute(select(User.id).where(User.id == user_id).with_for_update())
        now = utcnow()
        current = await limits(session, user_id, now)
        for period, amount in changes.items():
            in_force = current[period].amount
            lower = amount is not None and (in_force is None or amount <= in_force)
            # A new decision drops the one waiting; keeping the limit in force adds none.
            await session.execute(
                delete(DepositLimit).where(
                    DepositLimit.user_id == user_id,
                    DepositLimit.period == period,
                    DepositLimit.effective_from > now,
                )
            )
            if amount != in_force:
                session.add(
                    DepositLimit(
                        user_id=user_id,
                        period=period,
                        amount=amount,
                        effective_from=now if lower else now + RAISE_DELAY,
                    )
                )
        await session.flush()
        return await limits(session, user_id, now)


async def deposited(session: AsyncSession, user_id: int, now: datetime) -> dict[Period, int]:
    """What the user deposited (pending or completed) in each period's window up to `now`, in
    one statement: the daily cap and the player's own limits all count from it."""

    def since(window: timedelta) -> Any:
        return func.coalesce(
            func.sum(case((Transaction.created_at >= now - window, Transaction.amount))), 0
        )

    row = (
        await session.execute(
            select(*(since(window) for window in WINDOWS.values())).where(
                Transaction.user_id == user_id,
                Transaction.type == "deposit",
                Transaction.status.in_(("pending", "completed")),
                Transaction.created_at >= now - max(WINDOWS.values()),
            )
        )
    ).one()
    return {period: int(used or 0) for period, used in zip(WINDOWS, row, strict=True)}


async def check_deposit(
    session: AsyncSession, user_id: int, amount: int, used: dict[Period, int], now: datetime
) -> None:
    """Refuse (409 `deposit_limit`) a deposit over a limit in force, given what was deposited
    in each window; the caller holds the user's row lock, so two at once cannot both fit."""
    for period, limit in (await limits(session, user_id, now)).items():
        if limit.amount is not None and used[period] + amount > limit.amount:
            raise PersonalDepositLimit(
                details={
                    "period": period,
                    "limit": format_cents(limit.amount),
                    "used": format_cents(used[period]),
                    "remaining": format_cents(max(limit.amount - used[period], 0)),
                }
            )
