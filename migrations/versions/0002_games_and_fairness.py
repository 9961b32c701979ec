"""games catalogue and provably fair seed pairs

Seeds the two games of the catalogue, adds the per-user seed pairs of Spin and Win (at most one
active pair per user, enforced by a partial unique index on both dialects) and the request
reference that lets a retried spin find the spin it already made.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import gamehub.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Limits are cents: KES 10 to KES 10 000 (RULES.md).
GAMES = [
    {
        "slug": "spin-and-win",
        "name": "Spin and Win",
        "kind": "single",
        "min_bet": 1_000,
        "max_bet": 1_000_000,
        "rules": {
            "segments": [
                {"label": "Lose", "multiplier": "0", "weight": 60},
                {"label": "x1", "multiplier": "1", "weight": 20},
                {"label": "x2", "multiplier": "2", "weight": 15},
                {"label": "x5", "multiplier": "5", "weight": 5},
            ]
        },
        "active": True,
    },
    {
        "slug": "russian-roulette",
        "name": "Russian Roulette",
        "kind": "multiplayer",
        "min_bet": 1_000,
        "max_bet": 1_000_000,
        "rules": {
            "rake_percent": 5,
            "side_bet_edge_percent": 5,
            "turn_timeout_s": 20,
            "waiting_timeout_s": 120,
            "side_bet_min": 1_000,
            "side_bet_max": 1_000_000,
        },
        "active": True,
    },
]


def upgrade() -> None:
    op.create_table(
        "fairness_seed_pairs",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("server_seed", sa.String(length=64), nullable=False),
        sa.Column("server_seed_hash", sa.String(length=64), nullable=False),
        sa.Column("client_seed", sa.String(length=64), nullable=False),
        sa.Column("next_nonce", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", gamehub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revealed_at", gamehub.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "next_nonce >= 0", name=op.f("ck_fairness_seed_pairs_nonce_not_negative")
        ),
        sa.CheckConstraint(
            "status IN ('active', 'revealed')", name=op.f("ck_fairness_seed_pairs_known_status")
        ),
        sa.CheckConstraint(
            "(status = 'revealed') = (revealed_at IS NOT NULL)",
            name=op.f("ck_fairness_seed_pairs_revealed_when_revealed"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_fairness_seed_pairs_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fairness_seed_pairs")),
    )
    op.create_index(
        "uq_fairness_seed_pairs_active_user",
        "fairness_seed_pairs",
        ["user_id"],
        unique=True,
        postgresql_where=sa.text("status = 'active'"),
        sqlite_where=sa.text("status = 'active'"),
    )
    op.create_index(
        "ix_fairness_seed_pairs_user_id_id", "fairness_seed_pairs", ["user_id", "id"], unique=False
    )

    # SQLite cannot add a unique constraint in place; batch mode rebuilds the table there.
    with op.batch_alter_table("spin_and_win", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_ref", sa.String(length=128), nullable=True))
        batch_op.create_unique_constraint(op.f("uq_spin_and_win_request_ref"), ["request_ref"])

    games = sa.table(
        "games",
        sa.column("slug", sa.String),
        sa.column("name", sa.String),
        sa.column("kind", sa.String),
        sa.column("min_bet", sa.BigInteger),
        sa.column("max_bet", sa.BigInteger),
        sa.column("rules", sa.JSON),
        sa.column("active", sa.Boolean),
    )
    op.bulk_insert(games, GAMES)


def downgrade() -> None:
    games = sa.table("games", sa.column("slug", sa.String))
    op.execute(games.delete().where(games.c.slug.in_([game["slug"] for game in GAMES])))
    with op.batch_alter_table("spin_and_win", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_spin_and_win_request_ref"), type_="unique")
        batch_op.drop_column("request_ref")
    op.drop_index("ix_fairness_seed_pairs_user_id_id", table_name="fairness_seed_pairs")
    op.drop_index("uq_fairness_seed_pairs_active_user", table_name="fairness_seed_pairs")
    op.drop_table("fairness_seed_pairs")
