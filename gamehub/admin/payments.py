"""The payments queue: payments the reconciler could not settle, with "query again" and "resolve";
a resolution settles through wallet/settle.py as a callback does, so exactly once."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gamehub.admin import audit
from gamehub.admin.guard import CurrentOperator
from gamehub.db import transaction, utcnow
from gamehub.errors import Conflict, NotFound
from gamehub.models import Transaction, User
from gamehub.runtime import Runtime
from gamehub.wallet import reconciler, settle

Outcome = Literal["completed", "failed"]


class NotPending(Conflict):
    code, message = "payment_not_pending", "That payment is already settled."


async def queue(
    session: AsyncSession, *, status: str, older_than_s: float, limit: int
) -> list[tuple[Transaction, str]]:
    """Payments in `status` created at least `older_than_s` ago, oldest first, with usernames."""
    rows = await session.execute(
        select(Transaction, User.username)
        .join(User, User.id == Transaction.user_id)
        .where(
            Transaction.status == status,
            Transaction.created_at <= utcnow() - timedelta(seconds=older_than_s),
        )
        .order_by(Transaction.created_at, Transaction.id)
        .limit(limit)
    )
    return [(row, username) for row, username in rows]


async def _pending(rt: Runtime, transaction_id: int) -> Transaction:
    async with rt.sessions() as session:
        row = await session.get(Transaction, transaction_id)
    if row is None:
        raise NotFound("No such payment.")
    if row.status != "pending":
        raise NotPending(details={"status": row.status})
    return row


async def resolve(
    rt: Runtime,
    operator: CurrentOperator,
    transaction_id: int,
    outcome: Outcome,
    evidence: str,
    receipt: str | None,
) -> Transaction:
    row = await _pending(rt, transaction_id)

    async def note(session: AsyncSession, settled: Transaction) -> None:
        """The resolution's audit entry, inside the settling transaction."""
        details = {
            "type": settled.type,
            "amount": settled.amount,
            "tax_withheld": settled.tax_withheld,
            "user_id": settled.user_id,
            "provider_ref": settled.provider_ref,
            "evidence": evidence,
            "receipt": receipt,
        }
        action = f"payment.resolved_{outcome}"
        await audit.by_operator(session, operator, action, f"transaction:{settled.id}", details)

    reason = f"Resolved by an operator: {evidence}"
    done: Transaction | None
    if row.type == "deposit":
        if outcome == "completed":
            if row.provider_ref is None:
                raise Conflict(
                    "This deposit's prompt never reached M-Pesa: it can only have failed.",
                    code="payment_never_sent",
                )
            done = await settle.complete_deposit(
                rt,
                checkout_request_id=row.provider_ref,
                amount=row.amount,
                receipt=receipt,
                on_settled=note,
            )
        else:
            done = await settle.fail_deposit(rt, reason, row_id=row.id, on_settled=note)
    else:
        assert row.provider_ref is not None, "a withdrawal has its OriginatorConversationID"
        if outcome == "completed":
            done = await settle.complete_withdrawal(
                rt,
                originator_conversation_id=row.provider_ref,
                amount=row.net_amount,  # what M-Pesa paid: less the withholding tax
                receipt=receipt,
                on_settled=note,
            )
        else:
            done = await settle.fail_withdrawal(
                rt, reason, originator_conversation_id=row.provider_ref, on_settled=note
            )
    if done is not None:
        return done
    # Settled meanwhile (a callback, the reconciler, another operator) — or the receipt given
    # is already another payment's, which the table refuses.
    async with rt.sessions() as session:
        status = await session.scalar(
            select(Transaction.status).where(Transaction.id == transaction_id)
        )
    if status != "pending":
        raise NotPending(details={"status": status})
    raise Conflict("That receipt is already another payment's.", code="receipt_used")


async def query_again(rt: Runtime, operator: CurrentOperator, transaction_id: int) -> Transaction:
    """Ask Daraja now, as the reconciler would; the payment as it is afterwards (a withdrawal's
    answer comes later, to the status callback)."""
    row = await _pending(rt, transaction_id)
    async with transaction(rt.sessions) as session:
        details = {"type": row.type, "provider_ref": row.provider_ref}
        await audit.by_operator(
            session, operator, "payment.queried", f"transaction:{row.id}", details
        )
    await reconciler.check(rt, row, older_than_s=0)
    async with rt.sessions() as session:
        found = await session.get(Transaction, transaction_id)
    assert found is not None
    return found
