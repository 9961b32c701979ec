"""a statement that must be all or nothing can refuse itself (PostgreSQL)

A room command saved as one statement outside any transaction (gamehub/rooms/store_pg.py) has
no transaction to roll back when a wallet cannot pay or a seat is taken: the statement calls
gamehub_refuse(), whose error undoes everything the statement did.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLSTATE of the refusal: class GH is not used by PostgreSQL (store_pg.REFUSED matches it).
REFUSE = """
CREATE OR REPLACE FUNCTION gamehub_refuse(reason text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'GH409', MESSAGE = reason;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(REFUSE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS gamehub_refuse(text)")
