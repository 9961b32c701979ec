"""`operator_required`: every /admin endpoint takes an operator token and nothing else."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import wraps
from typing import ParamSpec, TypeVar, cast

from quart import g, request
from quart_schema import security_scheme
from sqlalchemy import select

from gamehub.admin import tokens
from gamehub.auth import tokens as player_tokens
from gamehub.auth.guard import bearer_token
from gamehub.auth.service import live_login
from gamehub.errors import ApiError, Forbidden, Unauthorized
from gamehub.models import Operator, Suspension, User
from gamehub.runtime import runtime

P = ParamSpec("P")
R = TypeVar("R")


class OperatorsOnly(Forbidden):
    code, message = "operator_token_required", "This needs an operator token (POST /admin/login)."


@dataclass(frozen=True)
class CurrentOperator:
    id: int
    username: str
    address: str | None  # the client address, for the audit trail
    family_id: str  # the login its token belongs to (POST /admin/logout ends it)


def _refusal(token: str, error: ApiError) -> ApiError:
    """A player's valid token is authenticated but not allowed here (403); anything else is 401."""
    try:
        player_tokens.decode_access_token(runtime().settings, token)
    except ApiError:
        return error
    return OperatorsOnly()


def operator_required(func: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    @wraps(func)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        rt = runtime()
        token = bearer_token()
        try:
            claims = tokens.decode(rt.settings, token)
        except ApiError as error:
            raise _refusal(token, error) from None
        # Still an operator, not suspended, and this login not ended (signed out, or revoked by
        # a suspension): taking any away ends their access at once.
        async with rt.readers() as session:
            username = await session.scalar(
                select(User.username)
                .join(Operator, Operator.user_id == User.id)
                .outerjoin(Suspension, Suspension.user_id == User.id)
                .where(
                    User.id == claims.operator_id,
                    Suspension.user_id.is_(None),
                    live_login(User.id, claims.family_id),
                )
            )
        if username is None:
            raise Unauthorized("This operator may no longer sign in.", code="session_revoked")
        g.operator = CurrentOperator(
            claims.operator_id, username, request.remote_addr, claims.family_id
        )
        # Idempotency-Key records are kept per account (idempotency.py): the operator's own.
        g.user_id = claims.operator_id
        return await func(*args, **kwargs)

    return security_scheme([{"bearer": []}])(wrapper)


def current_operator() -> CurrentOperator:
    return cast(CurrentOperator, g.operator)
