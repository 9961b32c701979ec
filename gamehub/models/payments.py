"""M-Pesa money movements as the player sees them: deposits and withdrawals."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from gamehub.db import Base, UTCDateTime, utcnow


class Transaction(Base):
    __tablename__ = "transactions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    amount: Mapped[int] = mapped_column(BigInteger)
    phone: Mapped[str] = mapped_column(String(12))
    # CheckoutRequestID of a deposit, OriginatorConversationID of a withdrawal.
    provider_ref: Mapped[str | None] = mapped_column(String(64), unique=True)
    receipt: Mapped[str | None] = mapped_column(String(32), unique=True)
    failure_reason: Mapped[str | None] = mapped_column(String(255))
    # The Idempotency-Key scope of its request: a retry finds this instead of paying again.
    request_ref: Mapped[str | None] = mapped_column(String(128))
    hold_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_holds.id"), unique=True)
    # A withdrawal's withholding tax, fixed when asked for: M-Pesa pays amount - tax_withheld.
    tax_withheld: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def net_amount(self) -> int:
        """What M-Pesa pays out (a withdrawal) or takes in (a deposit), in cents."""
        return self.amount - self.tax_withheld

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("type IN ('deposit', 'withdrawal')", name="known_type"),
        CheckConstraint("status IN ('pending', 'completed', 'failed')", name="known_status"),
        CheckConstraint(
            "tax_withheld >= 0 AND tax_withheld < amount"
            " AND (type = 'withdrawal' OR tax_withheld = 0)",
            name="tax_within_withdrawal",
        ),
        Index("ix_transactions_user_id_id", "user_id", "id"),
        Index("ix_transactions_status_created", "status", "created_at"),
        Index(
            "uq_transactions_request_ref",
            "request_ref",
            unique=True,
            postgresql_where=text("request_ref IS NOT NULL"),
        ),
    )
