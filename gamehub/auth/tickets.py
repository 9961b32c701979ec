"""Stream tickets for `?ticket=` (EventSource sends no headers): `user.login.expiry.nonce.mac`,
HMAC-signed, checked without the database and claimed once in the broker."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

from gamehub.auth.tokens import AccessClaims
from gamehub.errors import Unauthorized
from gamehub.rooms.broker import Broker

PREFIX = "ticket:"


def _sign(secret: str, payload: str) -> str:
    digest = hmac.new(secret.encode(), PREFIX.encode() + payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue(secret: str, login: AccessClaims, ttl_s: int, now: float | None = None) -> str:
    expires = int((time.time() if now is None else now) + ttl_s)
    payload = f"{login.user_id}.{login.family_id}.{expires}.{secrets.token_urlsafe(12)}"
    return f"{payload}.{_sign(secret, payload)}"


class InvalidTicket(Unauthorized):
    code, message = "invalid_ticket", "The stream ticket is not valid or was already used."


async def redeem(
    secret: str, broker: Broker, ticket: str, now: float | None = None
) -> AccessClaims:
    """The login a valid, unexpired, unused ticket was issued to; marks it used."""
    payload, _, signature = ticket.rpartition(".")
    parts = payload.split(".")
    if len(parts) != 4 or not hmac.compare_digest(signature, _sign(secret, payload)):
        raise InvalidTicket()
    user_id, family_id, expires, nonce = parts
    remaining = int(expires) - int(time.time() if now is None else now)
    if remaining <= 0 or not user_id.isdigit() or not family_id:
        raise InvalidTicket()
    if not await broker.claim(PREFIX + nonce, remaining + 1):
        raise InvalidTicket()
    return AccessClaims(int(user_id), family_id)
