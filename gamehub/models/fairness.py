"""Provably fair seed pairs: each user's committed server seed, client seed and next nonce."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from gamehub.db import Base, UTCDateTime, utcnow

ACTIVE = "active"
REVEALED = "revealed"
# The one-active-pair index's predicate as SQL text: an INSERT … ON CONFLICT must repeat it
# literally, as a bound parameter proves nothing once a prepared statement runs its generic plan.
ACTIVE_PAIR_PREDICATE = f"status = '{ACTIVE}'"


class SeedPair(Base):
    """A user's Spin and Win seed pair. While active only its hash is shown; rotating the pair
    reveals the server seed and opens a new pair at nonce 0."""

    __tablename__ = "fairness_seed_pairs"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    server_seed: Mapped[str] = mapped_column(String(64))
    server_seed_hash: Mapped[str] = mapped_column(String(64))
    # The client seed the next spin uses; PATCH /profile and rotation keep it users.client_seed.
    client_seed: Mapped[str] = mapped_column(String(64))
    next_nonce: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(16), default=ACTIVE)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("next_nonce >= 0", name="nonce_not_negative"),
        CheckConstraint("status IN ('active', 'revealed')", name="known_status"),
        CheckConstraint(
            "(status = 'revealed') = (revealed_at IS NOT NULL)", name="revealed_when_revealed"
        ),
        # The database, not the code, guarantees at most one active pair per user.
        Index(
            "uq_fairness_seed_pairs_active_user",
            "user_id",
            unique=True,
            postgresql_where=text(ACTIVE_PAIR_PREDICATE),
        ),
        Index("ix_fairness_seed_pairs_user_id_id", "user_id", "id"),
    )
