"""withholding tax on withdrawals: what each withdrawal has withheld (gamehub/taxes.py)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONSTRAINT = "ck_transactions_tax_within_withdrawal"


def upgrade() -> None:
    # A constant default: PostgreSQL adds the column without rewriting the table, and every
    # existing row (0) satisfies the check; NOT VALID then VALIDATE checks them without
    # holding the lock that blocks payments for the length of the scan.
    op.add_column(
        "transactions",
        sa.Column("tax_withheld", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.execute(
        f"ALTER TABLE transactions ADD CONSTRAINT {CONSTRAINT} CHECK ("
        "tax_withheld >= 0 AND tax_withheld < amount"
        " AND (type = 'withdrawal' OR tax_withheld = 0)) NOT VALID"
    )
    op.execute(f"ALTER TABLE transactions VALIDATE CONSTRAINT {CONSTRAINT}")


def downgrade() -> None:
    op.drop_constraint(CONSTRAINT, "transactions", type_="check")
    op.drop_column("transactions", "tax_withheld")
