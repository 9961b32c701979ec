"""responsible play: a player's cool-off or self-exclusion, and their own deposit limits

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import gamehub.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "users", sa.Column("paused_until", gamehub.db.UTCDateTime(timezone=True), nullable=True)
    )
    op.add_column("users", sa.Column("pause_kind", sa.String(length=16), nullable=True))
    op.create_table(
        "deposit_limits",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("effective_from", gamehub.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "period IN ('day', 'week', 'month')", name=op.f("ck_deposit_limits_period_known")
        ),
        sa.CheckConstraint(
            "amount IS NULL OR amount > 0", name=op.f("ck_deposit_limits_amount_positive")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_deposit_limits_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deposit_limits")),
    )
    op.create_index(
        "ix_deposit_limits_user_period",
        "deposit_limits",
        ["user_id", "period", "effective_from"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_deposit_limits_user_period", table_name="deposit_limits")
    op.drop_table("deposit_limits")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("pause_kind")
        batch.drop_column("paused_until")
