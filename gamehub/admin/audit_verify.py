"""`gamehub audit verify`: walk the audit trail's hash chain (gamehub_audit_hash, migration 0011)
and say where it was edited or has a gap, and where it no longer matches the ledger."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

GENESIS = "0" * 64
BATCH = 5_000

_ENTRIES = text(
    """
    SELECT id, prev_hash, hash,
        gamehub_audit_hash(prev_hash, id, at, actor, action, subject, details, address,
                           transfer_id) AS recomputed
    FROM audit_log WHERE id > :after ORDER BY id LIMIT :batch
    """
)


@dataclass(frozen=True)
class Problem:
    entry_id: int | None
    what: str

    def __str__(self) -> str:
        where = f"entry {self.entry_id}" if self.entry_id is not None else "ledger"
        return f"{where}: {self.what}"


@dataclass
class Report:
    entries: int = 0
    head_id: int | None = None
    head_hash: str = GENESIS
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


async def verify(session: AsyncSession, expect: tuple[int, str] | None = None) -> Report:
    """Walk the whole trail. `expect` is a head noted earlier (id, hash) that must still be in
    it, unchanged: deleting the newest entries leaves a valid but shorter chain, which only a
    copy kept outside the database can reveal."""
    report = Report()
    seen_expected = expect is None
    previous_id: int | None = None
    previous_hash = GENESIS
    while True:
        rows = (await session.execute(_ENTRIES, {"after": previous_id or 0, "batch": BATCH})).all()
        if not rows:
            break
        for entry_id, prev_hash, stored, recomputed in rows:
            report.entries += 1
            if stored != recomputed:
                report.problems.append(
                    Problem(entry_id, "edited: its content does not match its hash")
                )
            if prev_hash != previous_hash:
                after = f"entry {previous_id}" if previous_id is not None else "the start"
                report.problems.append(
                    Problem(
                        entry_id,
                        f"does not follow {after}: an entry between them is missing, "
                        f"or {after} was rewritten",
                    )
                )
            if expect is not None and entry_id == expect[0]:
                seen_expected = True
                if stored != expect[1]:
                    report.problems.append(
                        Problem(entry_id, "is not the entry noted earlier: its hash differs")
                    )
            previous_id, previous_hash = entry_id, stored
    if not seen_expected and expect is not None:
        report.problems.append(
            Problem(expect[0], "noted earlier, is gone: the trail was cut or rewritten")
        )
    report.head_id, report.head_hash = previous_id, previous_hash
    report.problems.extend(await money_problems(session))
    return report


# A money entry must still say what its transfer says (an edited transfer is found here).
_MONEY_MISMATCH = text(
    """
    SELECT a.id, a.transfer_id FROM audit_log a
    LEFT JOIN ledger_transfers t ON t.id = a.transfer_id
    WHERE a.transfer_id IS NOT NULL AND (
        t.id IS NULL
        OR a.details ->> 'reference' IS DISTINCT FROM t.reference
        OR (a.details ->> 'amount')::bigint IS DISTINCT FROM t.amount
        OR (a.details ->> 'debit_account_id')::bigint IS DISTINCT FROM t.debit_account_id
        OR (a.details ->> 'credit_account_id')::bigint IS DISTINCT FROM t.credit_account_id
        OR a.details ->> 'kind' IS DISTINCT FROM t.kind)
    ORDER BY a.id
    """
)


# Transfers the money trail (admin/money_trail.py) should have recorded by now.
_UNRECORDED = text(
    """
    SELECT t.id FROM ledger_transfers t
    WHERE t.created_at < now() - make_interval(secs => :grace_s)
        AND NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.transfer_id = t.id)
    ORDER BY t.id LIMIT 100
    """
)
GRACE_S = 600.0


async def money_problems(session: AsyncSession, grace_s: float = GRACE_S) -> list[Problem]:
    problems = [
        Problem(entry_id, f"ledger transfer {transfer_id} is missing or no longer matches it")
        for entry_id, transfer_id in (await session.execute(_MONEY_MISMATCH)).all()
    ]
    problems.extend(
        Problem(None, f"ledger transfer {transfer_id} has no audit entry")
        for (transfer_id,) in (await session.execute(_UNRECORDED, {"grace_s": grace_s})).all()
    )
    return problems
