"""Operator tokens: short-lived JWTs with `scope: admin` under a key, type and audience of their
own, so that neither an operator's nor a player's token verifies as the other by construction."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from gamehub.auth.tokens import signed_token, verified_claims
from gamehub.errors import Unauthorized
from gamehub.settings import Settings

TYPE = "admin"
SCOPE = "admin"


def _key(settings: Settings) -> bytes:
    return hmac.new(
        settings.jwt_secret.encode("utf-8"), b"gamehub operator tokens v1", hashlib.sha256
    ).digest()


def _audience(settings: Settings) -> str:
    return f"{settings.jwt_audience}:admin"


@dataclass(frozen=True)
class OperatorClaims:
    operator_id: int
    family_id: str  # the operator's login, as a player's (auth/service.py)


def issue(settings: Settings, operator_id: int, family_id: str) -> str:
    claims: dict[str, object] = {
        "iss": settings.jwt_issuer,
        "aud": _audience(settings),
        "sub": str(operator_id),
        "sid": family_id,
        "typ": TYPE,
        "scope": SCOPE,
    }
    return signed_token(_key(settings), settings.admin_token_ttl_s, claims)


def decode(settings: Settings, token: str) -> OperatorClaims:
    """Verify an operator token; any failure is one 401."""
    claims, operator_id = verified_claims(
        token,
        _key(settings),
        audience=_audience(settings),
        issuer=settings.jwt_issuer,
        typ=TYPE,
        require=["exp", "iat", "iss", "aud", "sub", "sid", "typ", "scope"],
        what="operator token",
    )
    if claims.get("scope") != SCOPE:
        raise Unauthorized("The operator token is not valid.", code="invalid_token")
    return OperatorClaims(operator_id=operator_id, family_id=str(claims["sid"]))
