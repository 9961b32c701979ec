"""Whether an account is suspended: the check login makes (403 `account_suspended`).

Kept apart from the suspending itself (suspensions.py) so that auth/ can ask without depending
on the back office."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gamehub.db import iso_utc
from gamehub.errors import Forbidden
from gamehub.models import Suspension, User


class AccountSuspended(Forbidden):
    code, message = "account_suspended", "This account is suspended; contact support."


async def ensure_not_suspended(session: AsyncSession, user_id: int) -> None:
    """Refuse a new login of a suspended account, inside the transaction that would start it.

    The user's row is share-locked first: a suspension locks it for update while it ends every
    login, so a login racing it either commits first (and its login is ended by the suspension)
    or sees the suspension here. No login outlives a suspension."""
    await session.execute(select(User.id).where(User.id == user_id).with_for_update(read=True))
    found = await session.get(Suspension, user_id, populate_existing=True)
    if found is not None:
        raise AccountSuspended(details={"suspended_at": iso_utc(found.suspended_at)})
