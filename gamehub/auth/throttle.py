"""Login and sign-up limits that hold behind a carrier's NAT and that an attacker cannot turn
against an account's owner: per address, and per account by device, usual place or elsewhere."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from quart import request

from gamehub.auth import service
from gamehub.auth.schemas import LoginIn
from gamehub.models import User
from gamehub.ratelimit import RateLimited, Rule
from gamehub.runtime import Runtime

DEVICE_COOKIE = "gamehub_device"
DEVICE_COOKIE_MAX_AGE_S = 400 * 86400  # browsers cap cookies at 400 days
PLACE_REMEMBERED_S = 90 * 86400


@dataclass(frozen=True)
class LoggedIn:
    session: service.Session
    # A device cookie to set (a new device), None when the request's own is still good.
    device_cookie: str | None


def client_address() -> str:
    """The client's address as resolved through trusted proxies (gamehub/proxies.py)."""
    return request.remote_addr or "unknown"


def _device_mac(secret: str, user_id: int, nonce: str) -> str:
    message = f"device:{user_id}:{nonce}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def new_device_cookie(secret: str, user_id: int) -> str:
    nonce = secrets.token_urlsafe(12)
    return f"{user_id}.{nonce}.{_device_mac(secret, user_id, nonce)}"


def device_of(cookie: str | None, secret: str, user_id: int) -> str | None:
    """The device's name if `cookie` is one this app gave `user_id`, else None."""
    if not cookie or len(cookie) > 200:
        return None
    owner, _, rest = cookie.partition(".")
    nonce, _, mac = rest.partition(".")
    if owner != str(user_id) or not nonce:
        return None
    return nonce if hmac.compare_digest(mac, _device_mac(secret, user_id, nonce)) else None


async def _take(rt: Runtime, buckets: list[tuple[str, Rule]]) -> None:
    """One hit in each bucket, or none at all and 429 with the wait of the one that refused."""
    taken: list[tuple[str, Rule]] = []
    for key, rule in buckets:
        wait = await rt.limiter.hit(key, rule)
        if wait is not None:
            await _give_back(rt, taken)
            raise RateLimited.after(wait)
        taken.append((key, rule))


async def _give_back(rt: Runtime, buckets: list[tuple[str, Rule]]) -> None:
    for key, rule in buckets:
        await rt.limiter.hit(key, rule, -1)


async def _account_bucket(rt: Runtime, data: LoginIn, user: User | None) -> tuple[str, Rule]:
    settings = rt.settings
    if user is None:
        name = (data.username or data.email or "").strip().lower()
        return f"login:name:{name}", settings.rate_login_account
    device = device_of(request.cookies.get(DEVICE_COOKIE), settings.jwt_secret, user.id)
    if device is not None:
        return f"login:device:{user.id}:{device}", settings.rate_login_known
    address = client_address()
    if await rt.limiter.known(f"login:place:{user.id}:{address}"):
        return f"login:place:{user.id}:{address}", settings.rate_login_known
    return f"login:account:{user.id}", settings.rate_login_account


async def login(rt: Runtime, data: LoginIn) -> LoggedIn:
    """Log in within the limits (429 with Retry-After beyond them); only failures count."""
    settings = rt.settings
    user = await service.find_account(rt.sessions, data)
    buckets: list[tuple[str, Rule]] = []
    if settings.rate_limits:
        buckets = [
            (f"login:address:{client_address()}", settings.rate_login_address),
            await _account_bucket(rt, data, user),
        ]
        await _take(rt, buckets)
    try:
        session = await service.login(rt.sessions, settings, data, user)
    except service.InvalidCredentials:
        raise  # a failure: it stays counted
    except BaseException:
        await _give_back(rt, buckets)  # our failure, not the client's
        raise
    await _give_back(rt, buckets)
    user_id = session.user.id
    await rt.limiter.remember(f"login:place:{user_id}:{client_address()}", PLACE_REMEMBERED_S)
    known = device_of(request.cookies.get(DEVICE_COOKIE), settings.jwt_secret, user_id)
    return LoggedIn(session, None if known else new_device_cookie(settings.jwt_secret, user_id))


async def before_sign_up(rt: Runtime) -> None:
    """Count a sign-up against its address (`RATE_REGISTER_ADDRESS`, sized for a carrier's)."""
    if rt.settings.rate_limits:
        await _take(rt, [(f"register:{client_address()}", rt.settings.rate_register_address)])
