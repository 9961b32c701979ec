"""Suspending and reinstating a player, with a reason, recorded in the audit trail. A suspension
ends every login (the caller then closes their streams: connections.logins_ended)."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gamehub.admin import audit
from gamehub.admin.guard import CurrentOperator
from gamehub.auth import service as auth
from gamehub.db import transaction, utcnow
from gamehub.errors import Conflict, NotFound
from gamehub.models import Suspension, User


async def _locked_player(session: AsyncSession, user_id: int) -> User:
    # The user's row is the lock a login racing this takes too (suspended.ensure_not_suspended).
    user = await session.get(User, user_id, with_for_update=True)
    if user is None:
        raise NotFound("No such player.")
    return user


async def suspend(
    sessions: async_sessionmaker[AsyncSession],
    operator: CurrentOperator,
    user_id: int,
    reason: str,
) -> tuple[User, Suspension, list[str]]:
    """The player, their suspension and the logins it ended."""
    async with transaction(sessions) as session:
        user = await _locked_player(session, user_id)
        if await session.get(Suspension, user_id) is not None:
            raise Conflict("That account is already suspended.", code="already_suspended")
        suspension = Suspension(
            user_id=user_id, suspended_at=utcnow(), reason=reason, operator_id=operator.id
        )
        session.add(suspension)
        ended = await auth.end_all_logins(session, user_id, "suspended")
        await session.flush()
        await audit.by_operator(
            session, operator, "player.suspended", f"user:{user_id}", {"reason": reason}
        )
        return user, suspension, ended


async def reinstate(
    sessions: async_sessionmaker[AsyncSession],
    operator: CurrentOperator,
    user_id: int,
    reason: str,
) -> User:
    async with transaction(sessions) as session:
        user = await _locked_player(session, user_id)
        lifted = await session.scalar(
            delete(Suspension).where(Suspension.user_id == user_id).returning(Suspension.user_id)
        )
        if lifted is None:
            raise Conflict("That account is not suspended.", code="not_suspended")
        await audit.by_operator(
            session, operator, "player.reinstated", f"user:{user_id}", {"reason": reason}
        )
        return user
