"""keyed effects: deposits, withdrawals, stakes and side bets name the request that made them

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("transactions", "bet_history")
KEYED = sa.text("request_ref IS NOT NULL")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("request_ref", sa.String(length=128), nullable=True))
        # Partial: rows made without a key cost the index nothing.
        op.create_index(
            f"uq_{table}_request_ref",
            table,
            ["request_ref"],
            unique=True,
            postgresql_where=KEYED,
            sqlite_where=KEYED,
        )


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(f"uq_{table}_request_ref", table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("request_ref")
