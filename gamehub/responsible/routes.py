"""HTTP endpoints of responsible play: `/responsible-play`, its pause and deposit limits (ours,
not the contract's: the rules ask for them)."""

from __future__ import annotations

from typing import Annotated, Literal, cast

from pydantic import BaseModel, Field
from quart import Blueprint
from quart_schema import validate_request, validate_response

from gamehub import connections
from gamehub.auth.guard import current_user, login_required
from gamehub.auth.schemas import Strict
from gamehub.db import iso_utc
from gamehub.models import User
from gamehub.money import Cents, format_cents
from gamehub.responsible import deposit_limits, pauses
from gamehub.runtime import runtime

blueprint = Blueprint("responsible", __name__)


class PauseIn(Strict):
    kind: Literal["cool_off", "self_exclusion"]
    # cool_off: 1-42 days; self_exclusion: 183-1825 days, or null for permanent (the ranges
    # per kind are checked by pauses.pause_end; the schema bounds any kind's days).
    days: Annotated[int, Field(ge=1, le=pauses.SELF_EXCLUSION_DAYS[1], strict=True)] | None = None


class DepositLimitsIn(Strict):
    """Only the periods given change; null removes that period's limit (a day later)."""

    day: Cents | None = None
    week: Cents | None = None
    month: Cents | None = None


class LimitOut(BaseModel):
    limit: str | None  # in force now; null: none
    next_limit: str | None  # a higher limit (or none) waiting for its day
    next_from: str | None


class PauseOut(BaseModel):
    paused: bool
    pause_kind: str | None
    paused_until: str | None
    permanent: bool
    logged_out: bool = False


class ResponsiblePlayOut(PauseOut):
    deposit_limits: dict[str, LimitOut]


def limits_out(
    found: dict[deposit_limits.Period, deposit_limits.PeriodLimit],
) -> dict[str, LimitOut]:
    """Deposit limits as the player and the back office see them."""

    def amount(cents: int | None) -> str | None:
        return None if cents is None else format_cents(cents)

    return {
        period: LimitOut(
            limit=amount(limit.amount),
            next_limit=amount(limit.next_amount),
            next_from=None if limit.next_from is None else iso_utc(limit.next_from),
        )
        for period, limit in found.items()
    }


def _pause_out(user: User, logged_out: bool = False) -> PauseOut:
    found = pauses.current_pause(user)
    if found is None:
        return PauseOut(paused=False, pause_kind=None, paused_until=None, permanent=False)
    until, kind = found
    return PauseOut(
        paused=True,
        pause_kind=kind,
        paused_until=iso_utc(until),
        permanent=until >= pauses.PERMANENT,
        logged_out=logged_out,
    )


def _state_out(
    user: User, found: dict[deposit_limits.Period, deposit_limits.PeriodLimit]
) -> ResponsiblePlayOut:
    return ResponsiblePlayOut(**_pause_out(user).model_dump(), deposit_limits=limits_out(found))


@blueprint.get("/responsible-play")
@login_required
@validate_response(ResponsiblePlayOut)
async def show() -> ResponsiblePlayOut:
    """The player's pause in force, if any, and their deposit limits."""
    user = current_user()
    return _state_out(user, await deposit_limits.current(runtime().readers, user.id))


@blueprint.put("/responsible-play/deposit-limits")
@login_required
@validate_request(DepositLimitsIn)
@validate_response(ResponsiblePlayOut)
async def set_deposit_limits(data: DepositLimitsIn) -> ResponsiblePlayOut:
    """Set deposit limits per 24 h (`day`), 7 days (`week`) and 30 days (`month`): a lower one
    is in force at once, a higher one or none (`null`) after 24 h."""
    user = current_user()
    # Its fields are the periods: those given, in cents (null: none).
    changes = cast(dict[deposit_limits.Period, int | None], data.model_dump(exclude_unset=True))
    return _state_out(user, await deposit_limits.decide(runtime().sessions, user.id, changes))


@blueprint.post("/responsible-play/pause")
@login_required
@validate_request(PauseIn)
@validate_response(PauseOut)
async def take_pause(data: PauseIn) -> PauseOut:
    """Cool-off (1-42 days) or self-exclusion (183-1825 days, or `days: null` for permanent): no
    deposits, spins, joins or bets until it ends, never shortened (409); every login ends."""
    rt = runtime()
    user, ended = await pauses.take_pause(rt.sessions, current_user().id, data.kind, data.days)
    # Their streams and sockets close too, on every instance.
    await connections.logins_ended(rt.broker, user.id, ended)
    return _pause_out(user, logged_out=True)
