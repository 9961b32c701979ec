"""`login_required`: the bearer token check every protected endpoint goes through."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import ParamSpec, TypeVar, cast

from quart import g, request
from quart_schema import security_scheme

from gamehub.auth import service, tickets, tokens
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
        found = await service.authenticate(runtime(), bearer_token())
        g.user = found.user
        g.user_id = found.user.id
        g.family_id = found.family_id
        g.balance = found.balance
        return await func(*args, **kwargs)

    return security_scheme([{"bearer": []}])(wrapper)


def login_checked_by_service(func: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """The bearer token's signature and expiry only, for an endpoint whose service checks the
    login is live in its own statement (one round trip); the route passes it `current_login()`."""

    @wraps(func)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        claims = tokens.decode_access_token(runtime().settings, bearer_token())
        g.login = claims
        g.user_id = claims.user_id
        g.family_id = claims.family_id
        return await func(*args, **kwargs)

    return security_scheme([{"bearer": []}])(wrapper)


async def stream_login() -> tokens.AccessClaims:
    """A stream's login: the bearer header's, or a single-use `?ticket=`'s."""
    ticket = request.args.get("ticket")
    rt = runtime()
    if ticket:
        return await tickets.redeem(rt.settings.jwt_secret, rt.broker, ticket)
    found = await service.authenticate(rt, bearer_token())
    return tokens.AccessClaims(found.user.id, found.family_id)


def current_user() -> User:
    return cast(User, g.user)


def current_login() -> tokens.AccessClaims:
    return cast(tokens.AccessClaims, g.login)


def current_family() -> str:
    return cast(str, g.family_id)
