"""A player's own deposit limits (responsible play)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from gamehub.db import Base, UTCDateTime


class DepositLimit(Base):
    """One decision about one period's limit (null: none), in force from `effective_from`; the
    latest decision in force is the limit (rules: gamehub/responsible)."""

    __tablename__ = "deposit_limits"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(8))
    amount: Mapped[int | None] = mapped_column(BigInteger)
    effective_from: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("period IN ('day', 'week', 'month')", name="period_known"),
        CheckConstraint("amount IS NULL OR amount > 0", name="amount_positive"),
        Index("ix_deposit_limits_user_period", "user_id", "period", "effective_from"),
    )
