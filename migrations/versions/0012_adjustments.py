"""balance adjustments by operators (four eyes from a configured size) and their ledger account

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import gamehub.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS_BEFORE = "kind IN ('wallet', 'house', 'clearing', 'escrow', 'tax')"
KINDS_AFTER = "kind IN ('wallet', 'house', 'clearing', 'escrow', 'tax', 'adjustment')"


def upgrade() -> None:
    # The account operators' corrections come from and go to (ledger.ADJUSTMENTS).
    op.drop_constraint(op.f("ck_ledger_accounts_known_kind"), "ledger_accounts", type_="check")
    op.create_check_constraint(
        op.f("ck_ledger_accounts_known_kind"), "ledger_accounts", KINDS_AFTER
    )
    op.create_table(
        "balance_adjustments",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("requested_by", sa.BigInteger(), nullable=False),
        sa.Column("requested_at", gamehub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sa.BigInteger(), nullable=True),
        sa.Column("rejected_by", sa.BigInteger(), nullable=True),
        sa.Column("posted_at", gamehub.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("transfer_id", sa.BigInteger(), nullable=True),
        sa.Column("request_ref", sa.String(length=128), nullable=True),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_balance_adjustments_amount_not_zero")),
        sa.CheckConstraint(
            "status IN ('awaiting_approval', 'posted', 'rejected')",
            name=op.f("ck_balance_adjustments_known_status"),
        ),
        sa.CheckConstraint(
            "approved_by IS NULL OR approved_by <> requested_by",
            name=op.f("ck_balance_adjustments_four_eyes"),
        ),
        sa.CheckConstraint(
            "(status = 'posted') = (transfer_id IS NOT NULL)",
            name=op.f("ck_balance_adjustments_posted_has_transfer"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_balance_adjustments_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["users.id"],
            name=op.f("fk_balance_adjustments_requested_by_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["approved_by"],
            ["users.id"],
            name=op.f("fk_balance_adjustments_approved_by_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["rejected_by"],
            ["users.id"],
            name=op.f("fk_balance_adjustments_rejected_by_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["transfer_id"],
            ["ledger_transfers.id"],
            name=op.f("fk_balance_adjustments_transfer_id_ledger_transfers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_balance_adjustments")),
        sa.UniqueConstraint("transfer_id", name=op.f("uq_balance_adjustments_transfer_id")),
        sa.UniqueConstraint("request_ref", name=op.f("uq_balance_adjustments_request_ref")),
    )
    op.create_index(
        "ix_balance_adjustments_user_id", "balance_adjustments", ["user_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_balance_adjustments_user_id", table_name="balance_adjustments")
    op.drop_table("balance_adjustments")
    op.drop_constraint(op.f("ck_ledger_accounts_known_kind"), "ledger_accounts", type_="check")
    op.create_check_constraint(
        op.f("ck_ledger_accounts_known_kind"), "ledger_accounts", KINDS_BEFORE
    )
