"""Operator accounts: making an account an operator, and signing in with password and TOTP."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gamehub.admin import audit, tokens, totp
from gamehub.admin.guard import CurrentOperator
from gamehub.admin.suspended import ensure_not_suspended
from gamehub.auth import passwords
from gamehub.auth.service import InvalidCredentials, revoke_family, start_family
from gamehub.db import transaction, utcnow
from gamehub.errors import Unauthorized
from gamehub.models import Operator, User
from gamehub.settings import Settings


class InvalidTotp(Unauthorized):
    code, message = "invalid_totp", "The one-time code is not correct."


class TotpReused(Unauthorized):
    code, message = "totp_reused", "That one-time code was already used; wait for the next one."


class NoSuchAccount(LookupError):
    """`gamehub admin create` named no account."""


@dataclass(frozen=True)
class NewOperator:
    user_id: int
    otpauth_uri: str


async def make_operator(sessions: async_sessionmaker[AsyncSession], username: str) -> NewOperator:
    """Make an existing account an operator with a fresh TOTP secret (running it again re-enrols
    a lost authenticator: the old codes stop working)."""
    secret = totp.new_secret()
    async with transaction(sessions) as session:
        user = await session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NoSuchAccount(username)
        found = await session.get(Operator, user.id, with_for_update=True)
        if found is None:
            session.add(Operator(user_id=user.id, totp_secret=secret, created_at=utcnow()))
        else:
            found.totp_secret = secret
            found.last_totp_step = None
        await session.flush()
        await audit.record(
            session,
            actor="cli",
            action="operator.enrolled" if found is None else "operator.re_enrolled",
            subject=f"user:{user.id}",
            details={"username": user.username},
        )
        return NewOperator(user.id, totp.provisioning_uri(secret, user.username))


async def login(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    username: str,
    password: str,
    code: str,
    address: str | None = None,
) -> str:
    """An operator token: password first (the same 401 as a player's login, operator or not),
    then the code."""
    async with sessions() as session:
        row = (
            await session.execute(
                select(User, Operator)
                .outerjoin(Operator, Operator.user_id == User.id)
                .where(User.username == username)
            )
        ).one_or_none()
    if row is None:
        await passwords.burn_time(password, settings.bcrypt_rounds)
        raise InvalidCredentials()
    user, operator = row
    # A player's right password is still not an operator's: the same answer as a wrong one.
    if not await passwords.verify_password(password, user.password_hash) or operator is None:
        raise InvalidCredentials()
    step = totp.matching_step(operator.totp_secret, code)
    if step is None:
        await _refused(sessions, user.id, "invalid_totp", address)
        raise InvalidTotp()
    try:
        return await _start(sessions, settings, user, operator, step, address)
    except TotpReused:
        await _refused(sessions, user.id, "totp_reused", address)
        raise


async def _refused(
    sessions: async_sessionmaker[AsyncSession], user_id: int, why: str, address: str | None
) -> None:
    """The right password with a wrong or spent code: someone may hold the operator's password."""
    async with transaction(sessions) as session:
        await audit.record(
            session,
            actor=audit.operator_actor(user_id),
            action="operator.sign_in_refused",
            subject=f"user:{user_id}",
            details={"reason": why},
            address=address,
        )


async def _start(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    user: User,
    operator: Operator,
    step: int,
    address: str | None,
) -> str:
    async with transaction(sessions) as session:
        await ensure_not_suspended(session, user.id)
        spent = await session.scalar(
            update(Operator)
            .where(
                Operator.user_id == user.id,
                Operator.totp_secret == operator.totp_secret,
                (Operator.last_totp_step.is_(None)) | (Operator.last_totp_step < step),
            )
            .values(last_totp_step=step)
            .returning(Operator.user_id)
        )
        if spent is None:
            raise TotpReused()
        family_id = await start_family(session, user.id)
        await audit.record(
            session,
            actor=audit.operator_actor(user.id),
            action="operator.signed_in",
            subject=f"user:{user.id}",
            address=address,
        )
    return tokens.issue(settings, user.id, family_id)


async def sign_out(sessions: async_sessionmaker[AsyncSession], operator: CurrentOperator) -> None:
    """End the operator's login as a player's logout ends theirs, with its audit entry."""
    async with transaction(sessions) as session:
        await revoke_family(session, operator.family_id, "logout")
        await audit.by_operator(session, operator, "operator.signed_out", f"user:{operator.id}")
