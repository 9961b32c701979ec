"""The seed's game entities: the catalogue, sessions of play, spins, rooms, matches and bets."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gamehub.db import Base, UTCDateTime, utcnow


class Game(Base):
    """A game in the catalogue with its limits (cents) and its rules (segments, rake, timeouts)."""

    __tablename__ = "games"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    slug: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    min_bet: Mapped[int] = mapped_column(BigInteger)
    max_bet: Mapped[int] = mapped_column(BigInteger)
    rules: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    __table_args__ = (
        CheckConstraint("kind IN ('single', 'multiplayer')", name="known_kind"),
        CheckConstraint("min_bet > 0 AND max_bet >= min_bet", name="limits"),
    )


class GameSession(Base):
    """One round of a game: a spin, or a roulette room's match."""

    __tablename__ = "game_sessions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    game_id: Mapped[int] = mapped_column(ForeignKey("games.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16), default="finished")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SpinAndWin(Base):
    """One spin: the bet, the segment the fair stream chose, and the inputs to verify it."""

    __tablename__ = "spin_and_win"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    game_session_id: Mapped[int] = mapped_column(ForeignKey("game_sessions.id"), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    bet_amount: Mapped[int] = mapped_column(BigInteger)
    win_amount: Mapped[int] = mapped_column(BigInteger)
    segment: Mapped[int] = mapped_column(Integer)
    multiplier: Mapped[str] = mapped_column(String(16))
    server_seed_hash: Mapped[str] = mapped_column(String(64))
    client_seed: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[int] = mapped_column(BigInteger)
    # The Idempotency-Key scope of its request: a retry finds this spin instead of spinning again.
    request_ref: Mapped[str | None] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint("bet_amount > 0 AND win_amount >= 0", name="amounts"),
        CheckConstraint(
            "tax_withheld >= 0 AND tax_withheld <= greatest(win_amount - bet_amount, 0)",
            name="tax_within_winnings",
        ),
        # A nonce is never used twice under one seed pair, whatever the concurrency.
        UniqueConstraint("user_id", "server_seed_hash", "nonce", name="uq_spin_and_win_nonce"),
    )


class Multiplayer(Base):
    """A multiplayer room: its stake, seats' status and the last event number (`seq`)."""

    __tablename__ = "multiplayer"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    game_id: Mapped[int] = mapped_column(ForeignKey("games.id"))
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    stake: Mapped[int] = mapped_column(BigInteger)
    seats_taken: Mapped[int] = mapped_column(Integer, default=0)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    # The rules' RoomState (roulette_state.to_dict): what the room's actor resumes from.
    state: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # When the room's next timeout is due; any instance's sweeper may fire an overdue one.
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("stake > 0", name="stake_positive"),
        CheckConstraint(
            "status IN ('waiting', 'playing', 'finished', 'cancelled')", name="known_status"
        ),
        Index("ix_multiplayer_status_stake", "status", "stake"),
        # Rooms that ended lately: the sweeper checks their last events reached the broker.
        Index("ix_multiplayer_ended_at", "ended_at"),
    )


class RussianRoulette(Base):
    """The match played in a room: the committed seed, the draw, whose turn it is, who won."""

    __tablename__ = "russian_roulette"

    room_id: Mapped[int] = mapped_column(ForeignKey("multiplayer.id"), primary_key=True)
    game_session_id: Mapped[int | None] = mapped_column(ForeignKey("game_sessions.id"))
    server_seed: Mapped[str | None] = mapped_column(String(64))
    server_seed_hash: Mapped[str | None] = mapped_column(String(64))
    client_seed: Mapped[str | None] = mapped_column(String(129))
    bullet: Mapped[int | None] = mapped_column(Integer)
    first_shooter_seat: Mapped[int | None] = mapped_column(Integer)
    pull_number: Mapped[int] = mapped_column(Integer, default=0)
    turn_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    turn_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    winner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    __table_args__ = (
        CheckConstraint("pull_number BETWEEN 0 AND 6", name="pull_number_range"),
        CheckConstraint("bullet IS NULL OR bullet BETWEEN 0 AND 5", name="bullet_range"),
    )


class BetHistory(Base):
    """Every bet a user placed on any game: spins, roulette stakes and side bets."""

    __tablename__ = "bet_history"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    game_id: Mapped[int] = mapped_column(ForeignKey("games.id"))
    game_session_id: Mapped[int | None] = mapped_column(ForeignKey("game_sessions.id"))
    room_id: Mapped[int | None] = mapped_column(ForeignKey("multiplayer.id"))
    bet_type: Mapped[str] = mapped_column(String(16))
    pull_number: Mapped[int | None] = mapped_column(Integer)
    bet_amount: Mapped[int] = mapped_column(BigInteger)
    win_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    # Withholding tax (gamehub/taxes.py): win_amount is paid in full, then this much taken back.
    tax_withheld: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    # The Idempotency-Key scope of the join or bet: a retry finds this instead of staking again.
    request_ref: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("bet_amount > 0 AND win_amount >= 0", name="amounts"),
        CheckConstraint(
            "tax_withheld >= 0 AND tax_withheld <= greatest(win_amount - bet_amount, 0)",
            name="tax_within_winnings",
        ),
        CheckConstraint(
            "bet_type IN ('spin', 'stake', 'survival', 'elimination')", name="known_bet_type"
        ),
        CheckConstraint("status IN ('pending', 'won', 'lost', 'refunded')", name="known_status"),
        Index("ix_bet_history_user_id_id", "user_id", "id"),
        # What a player has in escrow (pending stakes and bets) is read on every request.
        Index("ix_bet_history_user_id_status", "user_id", "status"),
        Index("ix_bet_history_room_pull", "room_id", "pull_number"),
        # Partial: most bets come without a key and cost this index nothing.
        Index(
            "uq_bet_history_request_ref",
            "request_ref",
            unique=True,
            postgresql_where=text("request_ref IS NOT NULL"),
        ),
    )
