"""Writing to and reading the audit trail: an entry commits in the transaction of the action it
records, or not at all; the database chains it (migration 0011)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from gamehub.models import AuditEntry

if TYPE_CHECKING:
    from gamehub.admin.guard import CurrentOperator


def operator_actor(operator_id: int) -> str:
    return f"operator:{operator_id}"


async def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    subject: str,
    details: dict[str, Any] | None = None,
    address: str | None = None,
) -> int:
    """Append an entry inside the caller's transaction; its id."""
    entry_id = await session.scalar(
        insert(AuditEntry)
        .values(
            actor=actor,
            action=action,
            subject=subject,
            details=details or {},
            address=address,
        )
        .returning(AuditEntry.id)
    )
    assert entry_id is not None
    return int(entry_id)


async def by_operator(
    session: AsyncSession,
    operator: CurrentOperator,
    action: str,
    subject: str,
    details: dict[str, Any] | None = None,
) -> int:
    """Append an operator's action, with the address they acted from."""
    return await record(
        session,
        actor=operator_actor(operator.id),
        action=action,
        subject=subject,
        details=details,
        address=operator.address,
    )


@dataclass(frozen=True)
class Page:
    entries: list[AuditEntry]
    next_before: int | None


async def page(session: AsyncSession, *, before: int | None, limit: int) -> Page:
    """Newest first; `next_before` is the id to pass as `before` for the next page."""
    statement = select(AuditEntry)
    if before is not None:
        statement = statement.where(AuditEntry.id < before)
    rows = list(await session.scalars(statement.order_by(AuditEntry.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    return Page(rows[:limit], rows[limit - 1].id if more else None)
