"""Player support: finding a player, and everything support needs to see about one."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from gamehub.balances import Balance, player_balance
from gamehub.db import utcnow
from gamehub.errors import NotFound
from gamehub.models import RefreshToken, Suspension, TokenFamily, Transaction, User
from gamehub.responsible import deposit_limits

SEARCH_LIMIT = 50
# A query that looks like (part of) a phone number: digits, with +, spaces or dashes.
_PHONE_LIKE = re.compile(r"\+?[0-9][0-9 -]*")
RECENT_TRANSACTIONS = 20


def _like(fragment: str) -> str:
    """A LIKE pattern that matches `fragment` literally anywhere."""
    escaped = fragment.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def search(session: AsyncSession, query: str) -> list[tuple[User, Suspension | None]]:
    """Players whose username, email or phone contains `query` (case-insensitive)."""
    pattern = _like(query.strip())
    matches = [
        User.username.ilike(pattern, escape="\\"),
        User.email.ilike(pattern, escape="\\"),
    ]
    if _PHONE_LIKE.fullmatch(query.strip()):
        # Phones are stored as 2547…; "0712…" and "+254 712…" are found by their digits.
        digits = "".join(ch for ch in query if ch.isdigit())
        matches.append(User.phone.like(_like(digits.removeprefix("0"))))
    rows = await session.execute(
        select(User, Suspension)
        .outerjoin(Suspension, Suspension.user_id == User.id)
        .where(or_(*matches))
        .order_by(User.id)
        .limit(SEARCH_LIMIT)
    )
    return [(user, suspension) for user, suspension in rows]


@dataclass(frozen=True)
class PlayerPage:
    user: User
    wallet: Balance
    transactions: list[Transaction]
    logins: Sequence[Row[str, datetime, datetime]]  # id, created_at, expires_at
    limits: dict[deposit_limits.Period, deposit_limits.PeriodLimit]
    suspension: Suspension | None


async def player_page(session: AsyncSession, user_id: int) -> PlayerPage:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("No such player.")
    now = utcnow()
    transactions = list(
        await session.scalars(
            select(Transaction)
            .where(Transaction.user_id == user_id)
            .order_by(Transaction.id.desc())
            .limit(RECENT_TRANSACTIONS)
        )
    )
    # A login is open while it is not revoked and a refresh token of it can still be used.
    expires = func.max(RefreshToken.expires_at)
    logins = await session.execute(
        select(TokenFamily.id, TokenFamily.created_at, expires.label("expires_at"))
        .join(RefreshToken, RefreshToken.family_id == TokenFamily.id)
        .where(TokenFamily.user_id == user_id, TokenFamily.revoked_at.is_(None))
        .group_by(TokenFamily.id, TokenFamily.created_at)
        .having(expires > now)
        .order_by(TokenFamily.created_at.desc())
    )
    return PlayerPage(
        user=user,
        wallet=await player_balance(session, user_id),
        transactions=transactions,
        logins=logins.all(),
        limits=await deposit_limits.limits(session, user_id, now),
        suspension=await session.get(Suspension, user_id),
    )
