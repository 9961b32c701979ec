"""Request and response bodies of the wallet endpoints (amounts in, cents inside, strings out)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from gamehub.auth.schemas import Strict  # unknown fields are a 422, a typo changes no payment
from gamehub.ids import QUERY_DIGITS, QueryId
from gamehub.money import WholeShillingCents
from gamehub.phone import Phone


class DepositIn(Strict):
    amount: WholeShillingCents = Field(description="KES, whole shillings, 1-250000")
    phone: Phone = Field(description="The M-Pesa phone that gets the payment prompt")


class WithdrawIn(Strict):
    amount: WholeShillingCents = Field(description="KES, whole shillings, 10-250000")
    phone: Phone | None = Field(default=None, description="Defaults to the profile's phone")


class TransactionsQuery(Strict):
    limit: Annotated[int, Field(ge=1, le=100), QUERY_DIGITS] = 20
    before: QueryId | None = None


class WalletOut(BaseModel):
    balance: str
    held: str
    available: str
    currency: Literal["KES"] = "KES"


class TransactionOut(BaseModel):
    id: int
    type: Literal["deposit", "withdrawal"]
    status: Literal["pending", "completed", "failed"]
    amount: str
    phone: str
    provider_ref: str | None
    receipt: str | None
    failure_reason: str | None
    created_at: str
    updated_at: str
    # A withdrawal's withholding tax (fixed when it was asked for; "0.00" when none) and what
    # M-Pesa pays the phone (amount - tax_withheld); null for a deposit.
    tax_withheld: str | None = None
    net_amount: str | None = None


class TransactionEnvelope(BaseModel):
    transaction: TransactionOut


class TransactionsOut(BaseModel):
    transactions: list[TransactionOut]
    next_before: int | None  # pass as `before` for the next (older) page; null on the last


class CallbackAck(BaseModel):
    # Daraja's own spelling of the acknowledgement it expects.
    ResultCode: int = 0
    ResultDesc: str = "Accepted"
