"""Request and response bodies of the operator endpoints."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, StringConstraints, WithJsonSchema

from gamehub.auth.schemas import LoginName, LoginPassword, Strict
from gamehub.ids import QUERY_DIGITS, Id, QueryId
from gamehub.money import parse_cents
from gamehub.responsible.routes import LimitOut
from gamehub.wallet.schemas import TransactionOut, WalletOut

# What an operator writes for the trail: something, not only spaces.
Reason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000, strict=True)
]
PageSize = Annotated[int, Field(ge=1, le=200), QUERY_DIGITS]
AdjustmentStatus = Literal["awaiting_approval", "posted", "rejected"]


class AdminLoginIn(Strict):
    username: LoginName
    password: LoginPassword
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


class AccountOut(BaseModel):
    id: int
    username: str
    email: str
    phone: str | None
    date_of_birth: str
    created_at: str
    suspended: bool
    suspension: SuspensionOut | None


class UsersOut(BaseModel):
    users: list[AccountOut]


class OpenLoginOut(BaseModel):
    id: str
    created_at: str
    expires_at: str


class AccountPauseOut(BaseModel):
    paused: bool
    pause_kind: str | None
    paused_until: str | None


class PlayerPageOut(AccountOut):
    wallet: WalletOut
    transactions: list[TransactionOut]
    open_logins: list[OpenLoginOut]
    pause: AccountPauseOut
    deposit_limits: dict[str, LimitOut]


class ReasonIn(Strict):
    reason: Reason


class AuditQuery(BaseModel):
    before: QueryId | None = None
    limit: PageSize = 50


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
    user: AccountOut


def _signed_cents(value: object) -> int:
    """A signed amount: "-250.50", "+100", 100 or -100 (at most 2 decimals, never zero)."""
    if isinstance(value, str):
        text = value.strip()
        negative = text.startswith("-")
        magnitude: object = text[1:] if text[:1] in "+-" else text
    elif isinstance(value, Decimal | int) and not isinstance(value, bool):
        negative = value < 0
        magnitude = abs(value)
    else:
        raise ValueError("amount must be a signed decimal string or a number")
    cents = parse_cents(magnitude)
    return -cents if negative else cents


SignedCents = Annotated[
    int,
    BeforeValidator(_signed_cents),
    WithJsonSchema(
        {
            "oneOf": [
                {"type": "string", "pattern": r"^[+-]?[0-9]+(\.[0-9]{1,2})?$"},
                {"type": "number", "multipleOf": 0.01},
            ],
            "description": "KES, signed: positive credits the wallet, negative debits it",
            "examples": ["-250.50", "1000"],
        }
    ),
]


class AdjustmentIn(Strict):
    user_id: Id
    amount: SignedCents
    reason: Reason


class AdjustmentOut(BaseModel):
    id: int
    user_id: int
    amount: str
    reason: str
    status: AdjustmentStatus
    requested_by: int
    requested_at: str
    approved_by: int | None
    rejected_by: int | None
    posted_at: str | None


class AdjustmentEnvelope(BaseModel):
    adjustment: AdjustmentOut


class AdjustmentsQuery(BaseModel):
    status: AdjustmentStatus | None = None
    limit: PageSize = 50


class AdjustmentsOut(BaseModel):
    adjustments: list[AdjustmentOut]


class PaymentsQuery(BaseModel):
    status: Literal["pending", "completed", "failed"] = "pending"
    # Unset: GAMEHUB_RECONCILE_AFTER_S, i.e. payments the reconciler has had a go at.
    older_than_s: Annotated[int, Field(ge=0, le=10**9), QUERY_DIGITS] | None = None
    limit: PageSize = 100


class PaymentOut(TransactionOut):
    user_id: int
    username: str


class PaymentsOut(BaseModel):
    payments: list[PaymentOut]


class PaymentEnvelope(BaseModel):
    payment: TransactionOut


class ResolveIn(Strict):
    outcome: Literal["completed", "failed"]
    # What the decision rests on (a Safaricom statement line, a support ticket): kept in the
    # audit trail; a failure's text also becomes the transaction's failure_reason.
    evidence: Reason
    # The M-Pesa receipt number of a payment resolved as completed, when the evidence has one.
    receipt: Annotated[str, Field(pattern=r"^[A-Z0-9]{6,32}$", strict=True)] | None = None


class HouseQuery(BaseModel):
    # UTC days, inclusive; unset: the last 7 days through today.
    from_: date | None = Field(default=None, alias="from")
    to: date | None = None


class RtpOut(BaseModel):
    observed: str | None  # paid out / wagered, 4 decimals
    theoretical: str | None
    ci95_low: str | None
    ci95_high: str | None
    # Whether the theoretical value lies inside the interval (null without one).
    within: bool | None


class HouseDayOut(BaseModel):
    day: str
    game: str
    bets: int
    wagered: str
    paid_out: str
    rake: str
    net: str
    tax_withheld: str  # from the day's payouts (players' tax, not the house's: not in net)
    rtp: RtpOut


class HouseReportOut(BaseModel):
    period: dict[str, str]  # {"from": day, "to": day}, inclusive
    days: list[HouseDayOut]
    totals: dict[str, str]


class LedgerCheckOut(BaseModel):
    ok: bool
    problems: list[str]


class TaxDayOut(BaseModel):
    day: str
    tax: str
    base: str
    amount: str
    count: int


class TaxReportOut(BaseModel):
    period: dict[str, str]
    days: list[TaxDayOut]
    total: str
