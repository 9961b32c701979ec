"""Reading the wallet and the caller's transactions (never someone else's)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gamehub.errors import NotFound
from gamehub.models import Transaction
from gamehub.runtime import Runtime


@dataclass(frozen=True)
class Page:
    transactions: list[Transaction]
    next_before: int | None


async def page(rt: Runtime, user_id: int, *, limit: int, before: int | None) -> Page:
    """Newest first; `next_before` is the id to pass as `before` for the next page."""
    statement = select(Transaction).where(Transaction.user_id == user_id)
    if before is not None:
        statement = statement.where(Transaction.id < before)
    async with rt.sessions() as session:
        rows = list(
            await session.scalars(statement.order_by(Transaction.id.desc()).limit(limit + 1))
        )
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, rows[-1].id if more else None)


async def one(rt: Runtime, user_id: int, transaction_id: int) -> Transaction:
    """The caller's transaction; someone else's is as absent as one that does not exist."""
    async with rt.sessions() as session:
        row = await session.scalar(
            select(Transaction).where(
                Transaction.id == transaction_id, Transaction.user_id == user_id
            )
        )
    if row is None:
        raise NotFound("No such transaction.")
    return row


async def made_by(rt: Runtime, user_id: int, scope: str | None) -> Transaction | None:
    """The transaction an earlier attempt of this keyed request made, if any."""
    if scope is None:
        return None
    async with rt.sessions() as session:
        row: Transaction | None = await session.scalar(
            select(Transaction).where(
                Transaction.request_ref == scope, Transaction.user_id == user_id
            )
        )
    return row


async def make_once(
    rt: Runtime, user_id: int, scope: str | None, make: Callable[[], Awaitable[Transaction]]
) -> tuple[Transaction, bool]:
    """(the transaction, whether this call made it): an earlier attempt's under `scope`, which a
    retry answers from, or the one `make` records."""
    earlier = await made_by(rt, user_id, scope)
    if earlier is not None:
        return earlier, False
    try:
        return await make(), True
    except IntegrityError:
        # Another attempt under the same key (a takeover racing the original) made it first.
        earlier = await made_by(rt, user_id, scope)
        if earlier is None:
            raise
        return earlier, False
