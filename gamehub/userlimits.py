"""Per-user limits on the endpoints that move money or play (and their WebSocket commands):
no single account can flood M-Pesa with payment prompts or a room with commands."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Literal, ParamSpec, TypeVar

from quart import g

from gamehub.ratelimit import RateLimited
from gamehub.runtime import runtime

P = ParamSpec("P")
R = TypeVar("R")
Kind = Literal["payments", "play"]


async def check_user(user_id: int, kind: Kind) -> None:
    """Count one action of `kind` for the user; 429 with Retry-After beyond the setting
    (`RATE_PAYMENTS_USER` for deposits and withdrawals, `RATE_PLAY_USER` for play)."""
    rt = runtime()
    settings = rt.settings
    if not settings.rate_limits:
        return
    rule = settings.rate_payments_user if kind == "payments" else settings.rate_play_user
    wait = await rt.limiter.hit(f"{kind}:{user_id}", rule)
    if wait is not None:
        raise RateLimited.after(wait)


def limited(kind: Kind) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """For a route under `login_required` / `login_checked_by_service` (which set g.user_id)."""

    def decorate(func: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @wraps(func)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            await check_user(g.user_id, kind)
            return await func(*args, **kwargs)

        return wrapper

    return decorate
