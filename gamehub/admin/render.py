"""Players as the back office shows them."""

from __future__ import annotations

from gamehub.admin import support
from gamehub.admin.schemas import (
    AccountOut,
    AccountPauseOut,
    OpenLoginOut,
    PlayerPageOut,
    SuspensionOut,
)
from gamehub.db import iso_utc
from gamehub.models import Suspension, User
from gamehub.responsible import pauses
from gamehub.responsible.routes import limits_out
from gamehub.wallet.render import transaction_out, wallet_out


def player_out(user: User, suspension: Suspension | None) -> AccountOut:
    return AccountOut(
        id=user.id,
        username=user.username,
        email=user.email,
        phone=user.phone,
        date_of_birth=user.date_of_birth.isoformat(),
        created_at=iso_utc(user.created_at),
        suspended=suspension is not None,
        suspension=None
        if suspension is None
        else SuspensionOut(
            suspended_at=iso_utc(suspension.suspended_at),
            reason=suspension.reason,
            operator_id=suspension.operator_id,
        ),
    )


def page_out(page: support.PlayerPage) -> PlayerPageOut:
    pause = pauses.current_pause(page.user)
    return PlayerPageOut(
        **player_out(page.user, page.suspension).model_dump(),
        wallet=wallet_out(page.wallet),
        transactions=[transaction_out(row) for row in page.transactions],
        open_logins=[
            OpenLoginOut(
                id=login.id,
                created_at=iso_utc(login.created_at),
                expires_at=iso_utc(login.expires_at),
            )
            for login in page.logins
        ],
        pause=AccountPauseOut(
            paused=pause is not None,
            pause_kind=None if pause is None else pause[1],
            paused_until=None if pause is None else iso_utc(pause[0]),
        ),
        deposit_limits=limits_out(page.limits),
    )
