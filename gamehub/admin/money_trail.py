"""Every money movement into the audit trail, off the path of the money: chaining an entry in
the hot paths' statements would queue every bet on the trail's lock, so each instance appends
the transfers not yet recorded every few seconds."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gamehub.db import transaction
from gamehub.tasks import Periodic

INTERVAL_S = 5.0
BATCH = 5_000
# Transfers whose ids were drawn before the newest recorded one may commit after it (a
# longer transaction); each pass looks back this many ids for them.
LOOK_BACK_IDS = 10_000
AUDIT_LOCK_KEY = 7_468_001  # the trail's lock (migration 0011)

_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
_RECORD = text(
    """
    INSERT INTO audit_log (actor, action, subject, details, transfer_id)
    SELECT 'ledger', 'money.' || t.kind, 'transfer:' || t.id,
        jsonb_build_object(
            'reference', t.reference, 'kind', t.kind, 'amount', t.amount,
            'debit_account_id', t.debit_account_id, 'debit', d.code,
            'credit_account_id', t.credit_account_id, 'credit', c.code,
            'transferred_at',
            to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')),
        t.id
    FROM ledger_transfers t
    JOIN ledger_accounts d ON d.id = t.debit_account_id
    JOIN ledger_accounts c ON c.id = t.credit_account_id
    WHERE t.id > :floor
        AND NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.transfer_id = t.id)
    ORDER BY t.id
    LIMIT :batch
    ON CONFLICT (transfer_id) DO NOTHING
    """
)
_NEWEST = text("SELECT coalesce(max(transfer_id), 0) FROM audit_log")


async def record_money(sessions: async_sessionmaker[AsyncSession], *, full: bool = False) -> int:
    """One pass: entries for transfers not yet in the trail (all of them when `full`)."""
    async with transaction(sessions) as session:
        # Before choosing the rows: another instance's pass has then committed, and this one
        # does not try to record what it recorded.
        await session.execute(_LOCK, {"key": AUDIT_LOCK_KEY})
        newest = 0 if full else int(await session.scalar(_NEWEST) or 0)
        result = await session.execute(
            _RECORD, {"floor": max(newest - LOOK_BACK_IDS, 0), "batch": BATCH}
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


class MoneyTrail(Periodic):
    """Runs record_money every `interval_s` on each instance (passes are serialised)."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], interval_s: float = INTERVAL_S
    ) -> None:
        super().__init__("money-trail", interval_s, self._pass)
        self.sessions = sessions
        self._passes = 0

    async def _pass(self) -> None:
        # Now and then the whole ledger, for a transfer that committed very late.
        full, self._passes = self._passes % 720 == 0, self._passes + 1
        written = await record_money(self.sessions, full=full)
        while written == BATCH:  # behind: catch up without waiting
            written = await record_money(self.sessions)
