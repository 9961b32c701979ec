"""Operators (back-office staff with a second factor), their suspensions and adjustments."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gamehub.db import Base, UTCDateTime, utcnow


class Operator(Base):
    """An account that may sign in to /admin: its TOTP secret and the last time step accepted,
    so that a code is never accepted twice (RFC 6238, 5.2)."""

    __tablename__ = "operators"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    totp_secret: Mapped[str] = mapped_column(String(64))
    last_totp_step: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Suspension(Base):
    """A suspended account (one row while suspended): no login, every login ended."""

    __tablename__ = "account_suspensions"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    suspended_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reason: Mapped[str] = mapped_column(Text)
    operator_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))


class Adjustment(Base):
    """An operator's correction of a balance; large ones wait for a second operator (four eyes,
    which the table insists on: the approver is never the requester)."""

    __tablename__ = "balance_adjustments"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    # Signed cents: positive credits the wallet, negative debits it.
    amount: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(24))
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    # Who turned it down instead (any operator, the requester too: withdrawing it).
    rejected_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    transfer_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transfers.id"), unique=True)
    # The Idempotency-Key scope of its request: a retry finds this instead of asking again.
    request_ref: Mapped[str | None] = mapped_column(String(128), unique=True)

    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount_not_zero"),
        CheckConstraint(
            "status IN ('awaiting_approval', 'posted', 'rejected')", name="known_status"
        ),
        CheckConstraint("approved_by IS NULL OR approved_by <> requested_by", name="four_eyes"),
        CheckConstraint(
            "(status = 'posted') = (transfer_id IS NOT NULL)", name="posted_has_transfer"
        ),
    )
