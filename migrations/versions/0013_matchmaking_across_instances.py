"""one waiting room per stake across instances: opening a room checks, under a lock per game
and stake, that no room of that game and stake waits with a free seat

Each instance pairs its own joiners (one matchmaking pass per stake at a time in the process),
but two joiners at the same stake arriving at the same moment on two instances each found no
waiting room and each opened one: both waited for an opponent who was waiting next door. The
statements that open a room (rooms/store_pg.py) now ask gamehub_may_open_room first. It takes a
transaction-level advisory lock of the game and stake, so openings at one stake follow each
other across instances, and then looks, with a snapshot taken after the lock was granted, for
a waiting room with a free seat: an opening that committed before the lock was granted is seen,
and the joiner is seated there instead. Rooms of two seats: "a free seat" is `seats_taken = 1`,
as the candidates' query (rooms/store.py CANDIDATES) says.

The partial index serves that look and the candidates' query alike.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The first key of pg_advisory_xact_lock(int, int): this lock's class (the audit trail's is
# a single bigint key, 7 468 001, so the two never meet).
MATCHMAKING_LOCK_CLASS = 7_468_002

MAY_OPEN = f"""
CREATE FUNCTION gamehub_may_open_room(game bigint, room_stake bigint) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock({MATCHMAKING_LOCK_CLASS}, hashtext(game || ':' || room_stake));
    RETURN NOT EXISTS (
        SELECT FROM multiplayer
        WHERE status = 'waiting' AND game_id = game AND stake = room_stake AND seats_taken = 1
    );
END
$$
"""


def upgrade() -> None:
    op.execute(
        "CREATE INDEX ix_multiplayer_waiting ON multiplayer (game_id, stake) "
        "WHERE status = 'waiting'"
    )
    op.execute(MAY_OPEN)


def downgrade() -> None:
    op.execute("DROP FUNCTION gamehub_may_open_room(bigint, bigint)")
    op.execute("DROP INDEX ix_multiplayer_waiting")
