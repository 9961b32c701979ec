"""JWT access tokens (HS256 pinned; issuer, audience and type checked) and opaque secrets."""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt

from gamehub.db import utcnow
from gamehub.errors import Unauthorized
from gamehub.ids import is_id
from gamehub.settings import Settings

ALGORITHM = "HS256"
_SUB = re.compile(r"[0-9]{1,19}")
ACCESS = "access"


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    family_id: str
    # The end of the user's responsible-play pause when the token was issued (Unix seconds).
    # A pause ends every login that existed before it, so a live token always knows of it;
    # endpoints that check only the token (a spin) need no read to refuse play.
    paused_until: float | None = None


def signed_token(key: str | bytes, ttl_s: int, claims: dict[str, object]) -> str:
    """`claims` signed with their time of issue, `ttl_s` of validity and a unique id."""
    now = utcnow()
    times = {"iat": now, "nbf": now, "exp": now + timedelta(seconds=ttl_s)}
    return jwt.encode({**claims, **times, "jti": secrets.token_hex(8)}, key, algorithm=ALGORITHM)


def issue_access_token(
    settings: Settings, user_id: int, family_id: str, paused_until: datetime | None = None
) -> str:
    claims: dict[str, object] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": str(user_id),
        "sid": family_id,
        "typ": ACCESS,
    }
    if paused_until is not None and paused_until > utcnow():
        claims["pau"] = math.ceil(paused_until.timestamp())  # rounded up: never ends early
    return signed_token(settings.jwt_secret, settings.access_token_ttl_s, claims)


# Tokens already verified by this process, with their expiry (a client sends the same token all
# its life, and verifying it cost a twentieth of a spin's CPU): only the time-independent checks
# are remembered; expiry is checked on every use, revocation by the database.
_VERIFIED: dict[tuple[str, str], tuple[AccessClaims, float]] = {}
_VERIFIED_MAX = 50_000
LEEWAY_S = 5


def decode_access_token(settings: Settings, token: str) -> AccessClaims:
    """Verify signature, expiry, issuer, audience and type; any failure is one 401."""
    key = (settings.jwt_secret, token)
    known = _VERIFIED.get(key)
    if known is not None:
        claims, expires_at = known
        if time.time() < expires_at + LEEWAY_S:
            return claims
        raise Unauthorized("The access token has expired.", code="token_expired")
    verified = _verify(settings, token)
    if len(_VERIFIED) >= _VERIFIED_MAX:
        _VERIFIED.clear()
    _VERIFIED[key] = verified
    return verified[0]


def verified_claims(
    token: str,
    key: str | bytes,
    *,
    audience: str,
    issuer: str,
    typ: str,
    require: list[str],
    what: str,
) -> tuple[dict[str, Any], int]:
    """A token's claims and its subject's id once signature (HS256 only), expiry, issuer,
    audience, `require`d claims and type are checked; any failure is one 401 naming `what`."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            options={"require": require},
            leeway=LEEWAY_S,
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized(f"The {what} has expired.", code="token_expired") from None
    except jwt.PyJWTError:
        raise Unauthorized(f"The {what} is not valid.", code="invalid_token") from None
    sub = claims["sub"]
    # ASCII digits naming a row: str.isdigit() also takes "²", and a signed token is no reason
    # to trust an id past bigint's range.
    if (
        claims.get("typ") != typ
        or not isinstance(sub, str)
        or not _SUB.fullmatch(sub)
        or not is_id(int(sub))
    ):
        raise Unauthorized(f"The {what} is not valid.", code="invalid_token")
    return claims, int(sub)


def _verify(settings: Settings, token: str) -> tuple[AccessClaims, float]:
    claims, user_id = verified_claims(
        token,
        settings.jwt_secret,
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
        typ=ACCESS,
        require=["exp", "iat", "iss", "aud", "sub", "sid", "typ"],
        what="access token",
    )
    paused = claims.get("pau")
    verified = AccessClaims(
        user_id=user_id,
        family_id=str(claims["sid"]),
        paused_until=float(paused) if isinstance(paused, int | float) else None,
    )
    return verified, float(claims["exp"])


def new_secret() -> str:
    """An opaque bearer secret (refresh tokens, stream tickets): 256 bits, URL-safe."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """Only digests of bearer secrets are stored, so a database leak hands out no sessions."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_family_id() -> str:
    return secrets.token_hex(16)
