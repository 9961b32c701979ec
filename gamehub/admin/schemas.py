"""Request and response bodies of the operator endpoints."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from gamehub.auth.schemas import Strict
from gamehub.wallet.schemas import TransactionOut, WalletOut

# What an operator writes for the trail: something, not only spaces.
Reason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000, strict=True)
]


class AdminLoginIn(Strict):
    username: Annotated[str, Field(min_length=1, max_length=254, strict=True)]
    password: Annotated[str, Field(min_length=1, max_length=1024, strict=True)]
    totp: Annotated[str, Field(pattern=r"^[0-9]{6}$", strict=True)]


class AdminTokenOut(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int
    scope: str = "admin"


class UsersQuery(BaseModel):
    query: Annotated[str, Field(min_length=1, max_length=254)]


class SuspensionOut(BaseModel):
    suspended_at: str
    reason: str
    operator_id: int


class PlayerOut(BaseModel):
    id: int
    username: str
    email: str
    phone: str | None
    date_of_birth: str
    created_at: str
    suspended: bool
    suspension: SuspensionOut | None


class UsersOut(BaseModel):
    users: list[PlayerOut]


class OpenLoginOut(BaseModel):
    id: str
    created_at: str
    expires_at: str


class PauseOut(BaseModel):
    paused: bool
    pause_kind: str | None
    paused_until: str | None


class LimitOut(BaseModel):
    limit: str | None
    next_limit: str | None
    next_from: str | None


class PlayerPageOut(PlayerOut):
    wallet: WalletOut
    transactions: list[TransactionOut]
    open_logins: list[OpenLoginOut]
    pause: PauseOut
    deposit_limits: dict[str, LimitOut]


class ReasonIn(Strict):
    reason: Reason


class AuditQuery(BaseModel):
    before: Annotated[int, Field(ge=1, le=2**62)] | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50


class AuditEntryOut(BaseModel):
    id: int
    at: str
    actor: str
    action: str
    subject: str
    details: dict[str, Any]
    address: str | None
    prev_hash: str
    hash: str


class AuditOut(BaseModel):
    entries: list[AuditEntryOut]
    next_before: int | None  # pass as `before` for the next (older) page; null on the last


class PlayerEnvelope(BaseModel):
    user: PlayerOut
