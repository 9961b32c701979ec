"""Whether an account is suspended: the check login makes (403 `account_suspended`), apart from
suspensions.py so that auth/ can ask without depending on the rest of the back office."""

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
    The share lock on the user's row queues it behind a suspension ending every login (which
    locks the row for update): a racing login is either ended by it or sees it here."""
    await session.execute(select(User.id).where(User.id == user_id).with_for_update(read=True))
    found = await session.get(Suspension, user_id, populate_existing=True)
    if found is not None:
        raise AccountSuspended(details={"suspended_at": iso_utc(found.suspended_at)})
