"""Each user's Spin and Win seed pair: opening it, following the client seed, and rotation.
Lock order: the user's row (FOR NO KEY UPDATE: no spin's foreign-key check waits), then the pair."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gamehub import fairness
from gamehub.db import transaction, utcnow
from gamehub.models import SeedPair, User
from gamehub.models.fairness import ACTIVE, ACTIVE_PAIR_PREDICATE, REVEALED


@dataclass(frozen=True)
class PairView:
    """What may be shown of an active pair: the commitment, never the seed."""

    server_seed_hash: str
    client_seed: str
    next_nonce: int


@dataclass(frozen=True)
class RevealedPair:
    server_seed: str
    server_seed_hash: str
    client_seed: str
    last_nonce: int | None  # None when the pair never served a spin


@dataclass(frozen=True)
class Rotation:
    previous: RevealedPair
    current: PairView


async def _lock_user(session: AsyncSession, user_id: int) -> str:
    """Lock the user's row and return its client seed."""
    client_seed = await session.scalar(
        select(User.client_seed).where(User.id == user_id).with_for_update(key_share=True)
    )
    if client_seed is None:
        raise LookupError(f"no user {user_id}")
    return client_seed


async def _open(session: AsyncSession, user_id: int, client_seed: str) -> PairView | None:
    """Open an active pair unless the user has one (then None); the partial unique index
    decides races. Its predicate is spelled as literal SQL (see ACTIVE_PAIR_PREDICATE)."""
    server_seed = fairness.new_server_seed()
    row = (
        await session.execute(
            postgresql.insert(SeedPair)
            .values(
                user_id=user_id,
                server_seed=server_seed,
                server_seed_hash=fairness.commitment(server_seed),
                client_seed=client_seed,
                next_nonce=0,
                status=ACTIVE,
                created_at=utcnow(),
            )
            .on_conflict_do_nothing(
                index_elements=["user_id"], index_where=text(ACTIVE_PAIR_PREDICATE)
            )
            .returning(SeedPair.server_seed_hash, SeedPair.client_seed, SeedPair.next_nonce)
        )
    ).one_or_none()
    return None if row is None else PairView(*row)


async def ensure_active(session: AsyncSession, user_id: int) -> None:
    """Open the user's first pair (pairs are created lazily, on first use)."""
    await _open(session, user_id, await _lock_user(session, user_id))


async def current(sessions: async_sessionmaker[AsyncSession], user_id: int) -> PairView:
    """The user's active pair as it may be shown, opened first if the user has none yet."""
    query = select(SeedPair.server_seed_hash, SeedPair.client_seed, SeedPair.next_nonce).where(
        SeedPair.user_id == user_id, SeedPair.status == ACTIVE
    )
    async with sessions() as session:
        row = (await session.execute(query)).one_or_none()
    if row is None:
        async with transaction(sessions) as session:
            await ensure_active(session, user_id)
            row = (await session.execute(query)).one()
    return PairView(row.server_seed_hash, row.client_seed, row.next_nonce)


async def follow_client_seed(session: AsyncSession, user_id: int, client_seed: str) -> None:
    """Make the active pair use the profile's new client seed (already updated by the caller)
    from the next spin on; the nonce keeps counting, so (server seed, nonce) never repeats."""
    await session.execute(
        update(SeedPair)
        .where(SeedPair.user_id == user_id, SeedPair.status == ACTIVE)
        .values(client_seed=client_seed)
    )


async def rotate(
    sessions: async_sessionmaker[AsyncSession], user_id: int, client_seed: str | None
) -> Rotation:
    """Reveal the active pair's server seed and open a new pair at nonce 0 (and `client_seed`)."""
    async with transaction(sessions) as session:
        profile_seed = await _lock_user(session, user_id)
        await _open(session, user_id, profile_seed)
        now = utcnow()
        old = (
            await session.execute(
                update(SeedPair)
                .where(SeedPair.user_id == user_id, SeedPair.status == ACTIVE)
                .values(status=REVEALED, revealed_at=now)
                .returning(
                    SeedPair.server_seed,
                    SeedPair.server_seed_hash,
                    SeedPair.client_seed,
                    SeedPair.next_nonce,
                )
            )
        ).one()
        new_client_seed = client_seed or profile_seed
        if new_client_seed != profile_seed:
            await session.execute(
                update(User)
                .where(User.id == user_id)
                .values(client_seed=new_client_seed, updated_at=now)
            )
        # The old pair is revealed and the user's row is locked: nothing can race this insert.
        new = await _open(session, user_id, new_client_seed)
        assert new is not None
    return Rotation(
        previous=RevealedPair(
            server_seed=old.server_seed,
            server_seed_hash=old.server_seed_hash,
            client_seed=old.client_seed,
            last_nonce=old.next_nonce - 1 if old.next_nonce > 0 else None,
        ),
        current=new,
    )
