"""rooms that ended lately are found by an index (the sweeper republishes their lost events)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_multiplayer_ended_at", "multiplayer", ["ended_at"])


def downgrade() -> None:
    op.drop_index("ix_multiplayer_ended_at", table_name="multiplayer")
