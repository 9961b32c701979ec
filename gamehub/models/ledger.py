"""The double-entry ledger: accounts, immutable transfers and holds (pending debits)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from gamehub.db import Base, UTCDateTime, utcnow


class Account(Base):
    """A ledger account. `balance` and `held` are caches of the transfers and holds, kept in the
    same database transaction and checked by ledger.check_invariants()."""

    __tablename__ = "ledger_accounts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    # Stable name: "house", "mpesa:clearing", "wallet:<user id>", "escrow:room:<room id>", ...
    code: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), unique=True
    )
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    held: Mapped[int] = mapped_column(BigInteger, default=0)
    # Only accounts that face the outside world (the house, M-Pesa clearing) may go negative.
    allow_negative: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint("held >= 0", name="held_not_negative"),
        CheckConstraint("allow_negative OR balance >= held", name="covers_holds"),
        CheckConstraint(
            "kind IN ('wallet', 'house', 'clearing', 'escrow', 'tax', 'adjustment')",
            name="known_kind",
        ),
    )


class Transfer(Base):
    """An immutable movement of a positive number of cents from one account to another."""

    __tablename__ = "ledger_transfers"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    # Caller-chosen and unique: a retry finds its transfer instead of moving money twice.
    reference: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    debit_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    credit_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    hold_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_holds.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("debit_account_id <> credit_account_id", name="distinct_accounts"),
        Index("ix_ledger_transfers_debit", "debit_account_id", "id"),
        Index("ix_ledger_transfers_credit", "credit_account_id", "id"),
    )


class Hold(Base):
    """Money reserved on an account for a later transfer; ends exactly once, posted or released."""

    __tablename__ = "ledger_holds"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    debit_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    credit_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("status IN ('pending', 'posted', 'released')", name="known_status"),
        CheckConstraint("debit_account_id <> credit_account_id", name="distinct_accounts"),
        Index("ix_ledger_holds_debit_status", "debit_account_id", "status"),
    )
