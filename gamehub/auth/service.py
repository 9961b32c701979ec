"""Account operations: register, login, refresh with rotation, logout, profile, stream tickets."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from asyncpg import Record
from sqlalchemy import Exists, bindparam, exists, literal_column, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gamehub import ledger
from gamehub.admin.suspended import ensure_not_suspended
from gamehub.auth import passwords, tokens
from gamehub.auth.schemas import LoginIn, ProfilePatch, RegisterIn
from gamehub.balances import Balance, combine, in_escrow
from gamehub.db import transaction, utcnow
from gamehub.errors import ApiError, Conflict, Unauthorized
from gamehub.games import seed_pairs
from gamehub.models import Account, RefreshToken, TokenFamily, User
from gamehub.pg import Sql
from gamehub.runtime import Runtime
from gamehub.settings import Settings


class AlreadyRegistered(Conflict):
    code, message = "already_registered", "That username or email is already registered."


class InvalidCredentials(Unauthorized):
    """The same answer whether or not the user exists."""

    code, message = "invalid_credentials", "The username, email or password is not correct."


class InvalidRefresh(Unauthorized):
    code, message = "invalid_refresh_token", "The refresh token is not valid."


@dataclass(frozen=True)
class Session:
    """What a successful register, login or refresh hands back."""

    user: User
    access_token: str
    refresh_token: str
    expires_in: int


async def start_family(session: AsyncSession, user_id: int) -> str:
    """A new login of the user (a player's, or an operator's: admin/accounts.py); its id."""
    family = TokenFamily(id=tokens.new_family_id(), user_id=user_id, created_at=utcnow())
    session.add(family)
    await session.flush()
    return family.id


async def _mint(session: AsyncSession, settings: Settings, user: User, family_id: str) -> Session:
    refresh = tokens.new_secret()
    session.add(
        RefreshToken(
            token_hash=tokens.digest(refresh),
            family_id=family_id,
            created_at=utcnow(),
            expires_at=utcnow() + timedelta(seconds=settings.refresh_token_ttl_s),
        )
    )
    await session.flush()
    return Session(
        user=user,
        access_token=tokens.issue_access_token(settings, user.id, family_id, user.paused_until),
        refresh_token=refresh,
        expires_in=settings.access_token_ttl_s,
    )


async def register(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, data: RegisterIn
) -> Session:
    password_hash = await passwords.hash_password(data.password, settings.bcrypt_rounds)
    try:
        async with transaction(sessions) as session:
            taken = await session.scalar(
                select(User.id).where((User.username == data.username) | (User.email == data.email))
            )
            if taken is not None:
                raise AlreadyRegistered()
            user = User(
                username=data.username,
                email=data.email,
                password_hash=password_hash,
                date_of_birth=data.date_of_birth,
                phone=data.phone,
                client_seed=secrets.token_hex(16),
            )
            session.add(user)
            await session.flush()
            await ledger.open_wallet(session, user.id)
            return await _mint(session, settings, user, await start_family(session, user.id))
    except IntegrityError:
        # Two registrations raced for the same name; the unique index decided.
        raise AlreadyRegistered() from None


async def find_account(sessions: async_sessionmaker[AsyncSession], data: LoginIn) -> User | None:
    """The account a login names, by username or email (whichever it was given)."""
    identifier = data.email if data.email is not None else data.username
    assert identifier is not None
    async with sessions() as session:
        if "@" in identifier:
            column = User.email
            identifier = identifier.strip().lower()
        else:
            column = User.username
        return await session.scalar(select(User).where(column == identifier))


async def login(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    data: LoginIn,
    user: User | None,
) -> Session:
    """Check the password against `user` (find_account's; None: no such account, which takes
    as long as a wrong password) and start a login."""
    if user is None:
        await passwords.burn_time(data.password, settings.bcrypt_rounds)
        raise InvalidCredentials()
    if not await passwords.verify_password(data.password, user.password_hash):
        raise InvalidCredentials()
    async with transaction(sessions) as session:
        # Only after the password: a suspension is not told to someone who guesses a name.
        await ensure_not_suspended(session, user.id)
        return await _mint(session, settings, user, await start_family(session, user.id))


async def refresh(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, refresh_token: str
) -> Session:
    """Spend a refresh token for a new pair; presenting a spent one revokes its whole family."""
    async with transaction(sessions) as session:
        row = (
            await session.execute(
                select(RefreshToken, TokenFamily)
                .join(TokenFamily, TokenFamily.id == RefreshToken.family_id)
                .where(RefreshToken.token_hash == tokens.digest(refresh_token))
            )
        ).one_or_none()
        if row is None:
            raise InvalidRefresh()
        token, family = row
        now = utcnow()
        if family.revoked_at is not None or token.expires_at <= now:
            raise InvalidRefresh()
        spent = await session.scalar(
            update(RefreshToken)
            .where(RefreshToken.id == token.id, RefreshToken.spent_at.is_(None))
            .values(spent_at=now)
            .returning(RefreshToken.id)
        )
        if spent is not None:
            user = await session.get(User, family.user_id)
            assert user is not None
            return await _mint(session, settings, user, family.id)
        # Someone holds a copy of a spent token: end every session of this login (committed
        # before the refusal is raised).
        await revoke_family(session, family.id, "refresh_reuse")
    raise RefreshReused(family.user_id, family.id)


class RefreshReused(Unauthorized):
    """A spent refresh token came back: its login was ended (committed) for safety."""

    code = "refresh_token_reused"
    message = "This refresh token was already used; the session has been ended for safety."

    def __init__(self, user_id: int, family_id: str) -> None:
        super().__init__()
        self.user_id, self.family_id = user_id, family_id


async def revoke_family(session: AsyncSession, family_id: str, reason: str) -> None:
    """End one login (a player's or an operator's): its tokens stop working at once."""
    await session.execute(
        update(TokenFamily)
        .where(TokenFamily.id == family_id, TokenFamily.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )


async def end_all_logins(session: AsyncSession, user_id: int, reason: str) -> list[str]:
    """Revoke every live login of the user; their ids, for `connections.logins_ended` after the
    commit."""
    ended = await session.scalars(
        update(TokenFamily)
        .where(TokenFamily.user_id == user_id, TokenFamily.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
        .returning(TokenFamily.id)
    )
    return list(ended)


async def logout(sessions: async_sessionmaker[AsyncSession], family_id: str) -> None:
    async with transaction(sessions) as session:
        await revoke_family(session, family_id, "logout")


# Built once, for the bare driver: every authenticated request runs it.
_AUTHENTICATE = Sql.compiled(
    select(User, TokenFamily.revoked_at, Account.balance, Account.held, in_escrow(User.id))
    .join(TokenFamily, TokenFamily.user_id == User.id)
    .outerjoin(Account, Account.user_id == User.id)
    .where(User.id == bindparam("user_id"), TokenFamily.id == bindparam("family_id")),
    "user_id",
    "family_id",
)


@dataclass(frozen=True)
class Authenticated:
    user: User
    family_id: str
    balance: Balance  # read in the same statement: most endpoints show it


def live_login(user_id: Any, family_id: Any) -> Exists:
    """The login (token family) is the user's and neither logged out nor revoked."""
    return exists().where(
        TokenFamily.id == family_id,
        TokenFamily.user_id == user_id,
        TokenFamily.revoked_at.is_(None),
    )


# live_login as PostgreSQL text with :user_id and :family_id, for statements written as SQL
# that check the login in the same statement as their work (spins, pulls).
LIVE_LOGIN_SQL = str(
    live_login(literal_column(":user_id"), literal_column(":family_id")).compile(
        dialect=postgresql.dialect(),  # type: ignore[no-untyped-call]  # untyped upstream
        compile_kwargs={"literal_binds": True},
    )
)
_USER_COLUMNS = [column.key for column in User.__table__.columns]


class SessionRevoked(Unauthorized):
    code, message = "session_revoked", "This session has ended; log in again."


async def authenticate(rt: Runtime, access_token: str) -> Authenticated:
    """The user behind a valid access token whose login has not been revoked (one statement)."""
    return await check_login(rt, tokens.decode_access_token(rt.settings, access_token))


async def check_login(rt: Runtime, claims: tokens.AccessClaims) -> Authenticated:
    """The user of verified claims, if their login is still live (one statement)."""
    params = {"user_id": claims.user_id, "family_id": claims.family_id}
    record = await rt.pg.fetchrow(_AUTHENTICATE, params)
    row = None if record is None else _with_user(record)
    if row is None or row[1] is not None:
        raise SessionRevoked()
    return Authenticated(row[0], claims.family_id, combine(row[2], row[3], row[4]))


def _with_user(record: Record) -> tuple[Any, ...]:
    """A raw row of _AUTHENTICATE shaped as SQLAlchemy returns it: (User, revoked_at, …)."""
    width = len(_USER_COLUMNS)
    user = User(**dict(zip(_USER_COLUMNS, record[:width], strict=True)))
    return (user, *record[width:])


async def update_profile(
    sessions: async_sessionmaker[AsyncSession], user_id: int, patch: ProfilePatch
) -> User:
    changes = patch.model_dump(exclude_unset=True)
    if any(value is None for key, value in changes.items() if key != "phone"):
        raise ApiError(
            "email and client_seed cannot be cleared.", status=422, code="validation_error"
        )
    try:
        async with transaction(sessions) as session:
            user = await session.get(User, user_id)
            assert user is not None
            for key, value in changes.items():
                setattr(user, key, value)
            await session.flush()
            if "client_seed" in changes:
                # The next spin must use the profile's client seed (user row first, then pair).
                await seed_pairs.follow_client_seed(session, user_id, changes["client_seed"])
            return user
    except IntegrityError:
        raise Conflict("That email is already registered.", code="already_registered") from None
