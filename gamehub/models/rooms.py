"""Live-room bookkeeping: every room event as published (for exact replay) and who is seated."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gamehub.db import Base, UTCDateTime, utcnow


class RoomEvent(Base):
    """One room event, numbered by the room's `seq`; `data` is the exact JSON text streamed."""

    __tablename__ = "room_events"

    room_id: Mapped[int] = mapped_column(ForeignKey("multiplayer.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    data: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ActiveSeat(Base):
    """A user's seat in a waiting or playing room; the primary key allows one such room each."""

    __tablename__ = "active_seats"

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    room_id: Mapped[int] = mapped_column(ForeignKey("multiplayer.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
