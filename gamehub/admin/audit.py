"""Writing to and reading the audit trail.

An entry is written in the same database transaction as the action it records, so an action
and its entry commit together or not at all. The database chains it (migration 0011)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from gamehub.models import AuditEntry


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
    rows = rows[:limit]
    return Page(rows, rows[-1].id if more else None)
