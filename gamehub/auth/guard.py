"""`login_required`: the bearer token check every protected endpoint goes through."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import ParamSpec, TypeVar, cast

from quart import g, request
from quart_schema import security_scheme

from gamehub.auth import service, tickets
from gamehub.errors import Unauthorized
from gamehub.models import User
from gamehub.runtime import runtime

P = ParamSpec("P")
R = TypeVar("R")


def bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send `Authorization: Bearer <access_token>`.")
    return token.strip()


def login_required(func: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    @wraps(func)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        rt = runtime()
        found = await service.authenticate(rt.readers, rt.settings, bearer_token())
        g.user = found.user
        g.family_id = found.family_id
        g.balance = found.balance
        return await func(*args, **kwargs)

    # Marks the operation on the OpenAPI page as needing the bearer scheme.
    return security_scheme([{"bearer": []}])(wrapper)


async def stream_user_id() -> int:
    """Streams take the bearer header or a single-use `?ticket=` (EventSource has no headers)."""
    ticket = request.args.get("ticket")
    rt = runtime()
    if ticket:
        return await tickets.redeem(rt.settings.jwt_secret, rt.broker, ticket)
    found = await service.authenticate(rt.readers, rt.settings, bearer_token())
    return found.user.id


def current_user() -> User:
    return cast(User, g.user)


def current_family() -> str:
    return cast(str, g.family_id)
