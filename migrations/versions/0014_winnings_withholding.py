"""withholding tax on winnings: what each bet's payout had withheld (gamehub/taxes.py)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A constant default: PostgreSQL adds the column without rewriting the table, and the hot
    # paths' statements with the tax off need not name it.
    op.add_column(
        "bet_history",
        sa.Column("tax_withheld", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_bet_history_tax_within_winnings"),
        "bet_history",
        "tax_withheld >= 0 AND tax_withheld <= greatest(win_amount - bet_amount, 0)",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_bet_history_tax_within_winnings"), "bet_history", type_="check")
    op.drop_column("bet_history", "tax_withheld")
