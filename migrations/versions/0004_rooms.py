"""rooms: persisted room state, seats taken, room events for replay, active seats

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import gamehub.db

revision: str = "0004"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("multiplayer") as batch:
        batch.add_column(sa.Column("seats_taken", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("state", sa.JSON(), nullable=True))
        batch.add_column(
            sa.Column("deadline_at", gamehub.db.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "room_events",
        sa.Column("room_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("created_at", gamehub.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["room_id"], ["multiplayer.id"], name=op.f("fk_room_events_room_id_multiplayer")
        ),
        sa.PrimaryKeyConstraint("room_id", "seq", name=op.f("pk_room_events")),
    )
    op.create_table(
        "active_seats",
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("room_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", gamehub.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_active_seats_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["room_id"], ["multiplayer.id"], name=op.f("fk_active_seats_room_id_multiplayer")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_active_seats")),
    )
    op.create_index(op.f("ix_active_seats_room_id"), "active_seats", ["room_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_active_seats_room_id"), table_name="active_seats")
    op.drop_table("active_seats")
    op.drop_table("room_events")
    with op.batch_alter_table("multiplayer") as batch:
        batch.drop_column("deadline_at")
        batch.drop_column("state")
        batch.drop_column("seats_taken")
