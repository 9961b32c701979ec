"""Operator tokens: short-lived JWTs with `scope: admin`, signed under a key of their own.

The key is derived from GAMEHUB_JWT_SECRET for this one purpose, and the type and audience differ
from a player's access token, so neither kind verifies as the other: an operator token never
plays (every player endpoint refuses it as an invalid token) and a player token never reaches
/admin, by construction rather than by a check someone could forget."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

import jwt

from gamehub.db import utcnow
from gamehub.errors import Unauthorized
from gamehub.ids import is_id
from gamehub.settings import Settings

ALGORITHM = "HS256"
TYPE = "admin"
SCOPE = "admin"
_SUB = re.compile(r"[0-9]{1,19}")
LEEWAY_S = 5


def _key(settings: Settings) -> bytes:
    return hmac.new(
        settings.jwt_secret.encode("utf-8"), b"gamehub operator tokens v1", hashlib.sha256
    ).digest()


def _audience(settings: Settings) -> str:
    return f"{settings.jwt_audience}:admin"


@dataclass(frozen=True)
class OperatorClaims:
    operator_id: int


def issue(settings: Settings, operator_id: int) -> str:
    now = utcnow()
    claims: dict[str, object] = {
        "iss": settings.jwt_issuer,
        "aud": _audience(settings),
        "sub": str(operator_id),
        "typ": TYPE,
        "scope": SCOPE,
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(seconds=settings.admin_token_ttl_s),
        "jti": secrets.token_hex(8),
    }
    return jwt.encode(claims, _key(settings), algorithm=ALGORITHM)


def decode(settings: Settings, token: str) -> OperatorClaims:
    """Verify an operator token; any failure is one 401."""
    try:
        claims = jwt.decode(
            token,
            _key(settings),
            algorithms=[ALGORITHM],
            audience=_audience(settings),
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "typ", "scope"]},
            leeway=LEEWAY_S,
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("The operator token has expired.", code="token_expired") from None
    except jwt.PyJWTError:
        raise Unauthorized("The operator token is not valid.", code="invalid_token") from None
    sub = claims["sub"]
    if (
        claims.get("typ") != TYPE
        or claims.get("scope") != SCOPE
        or not isinstance(sub, str)
        or not _SUB.fullmatch(sub)
        or not is_id(int(sub))
    ):
        raise Unauthorized("The operator token is not valid.", code="invalid_token")
    return OperatorClaims(operator_id=int(sub))
