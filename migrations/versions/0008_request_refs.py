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


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("request_ref", sa.String(length=128), nullable=True))
            batch.create_unique_constraint(op.f(f"uq_{table}_request_ref"), ["request_ref"])


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f"uq_{table}_request_ref"), type_="unique")
            batch.drop_column("request_ref")
