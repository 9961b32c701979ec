"""Cool-off and self-exclusion (RULES.md, responsible play): no deposits, spins, joins or side
bets until the pause ends; taking one ends every login, so every live token carries it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gamehub.auth import service as auth
from gamehub.db import iso_utc, transaction, utcnow
from gamehub.errors import ApiError, Forbidden
from gamehub.models import User

PauseKind = Literal["cool_off", "self_exclusion"]

# 24 hours to 6 weeks; 6 months to 5 years, or permanent.
COOL_OFF_DAYS = (1, 42)
SELF_EXCLUSION_DAYS = (183, 5 * 365)
PERMANENT = datetime(9999, 12, 31, tzinfo=UTC)


class PlayPaused(Forbidden):
    code, message = "play_paused", "Play is paused on this account until the pause ends."


def ensure_may_play(paused_until: datetime | float | None, now: datetime | None = None) -> None:
    """Refuse (403 `play_paused`) a deposit, spin, join or bet during the player's pause."""
    if paused_until is None:
        return
    until = (
        paused_until
        if isinstance(paused_until, datetime)
        else datetime.fromtimestamp(paused_until, UTC)
    )
    if until > (now or utcnow()):
        raise PlayPaused(details={"paused_until": iso_utc(until)})


def pause_end(kind: PauseKind, days: int | None, now: datetime) -> datetime:
    """When a pause of `kind` for `days` (None: permanent self-exclusion) taken now ends."""
    if kind == "self_exclusion" and days is None:
        return PERMANENT
    low, high = COOL_OFF_DAYS if kind == "cool_off" else SELF_EXCLUSION_DAYS
    if days is None or not low <= days <= high:
        raise ApiError(
            f"A {kind.replace('_', '-')} lasts {low} to {high} days"
            + (" (or permanent: days null)." if kind == "self_exclusion" else "."),
            status=422,
            code="validation_error",
            details={"days": {"min": low, "max": high}},
        )
    # Whole seconds, rounded up: the end a token carries (tokens.AccessClaims) is the same.
    return now.replace(microsecond=0) + timedelta(days=days, seconds=1 if now.microsecond else 0)


async def take_pause(
    sessions: async_sessionmaker[AsyncSession], user_id: int, kind: PauseKind, days: int | None
) -> tuple[User, list[str]]:
    """Pause the player's play and end all their logins (whose ids it returns); 409
    `pause_cannot_shorten` when a pause already runs longer."""
    now = utcnow()
    until = pause_end(kind, days, now)
    async with transaction(sessions) as session:
        user = await session.get(User, user_id, with_for_update=True)
        assert user is not None
        if user.paused_until is not None and user.paused_until > until:
            raise ApiError(
                "A pause already runs longer; a pause can be lengthened, never shortened.",
                status=409,
                code="pause_cannot_shorten",
                details={"paused_until": iso_utc(user.paused_until)},
            )
        user.paused_until = until
        user.pause_kind = kind
        ended = await auth.end_all_logins(session, user_id, "play_paused")
        await session.flush()
        return user, ended


def current_pause(user: User, now: datetime | None = None) -> tuple[datetime, str] | None:
    """The pause in force (end, kind), if any."""
    if user.paused_until is None or user.paused_until <= (now or utcnow()):
        return None
    return user.paused_until, user.pause_kind or "cool_off"
