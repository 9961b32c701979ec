"""The audit trail: append-only, hash-chained entries (migration 0011 keeps them so)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, FetchedValue, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gamehub.db import Base, UTCDateTime


class AuditEntry(Base):
    """One operator action or money movement; the database's trigger sets id, at, prev_hash and
    hash, and refuses to change or delete an entry."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(
        BigInteger, primary_key=True, autoincrement=False, server_default=FetchedValue()
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    # "operator:<user id>", "ledger" (a money movement), "system", "cli".
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(128))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB)
    address: Mapped[str | None] = mapped_column(String(64))
    # The ledger transfer a money entry records (at most one entry each).
    transfer_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
