"""The exactly-once end of a payment: of all attempts, the one whose conditional UPDATE of the
pending row returns it moves the money in the same transaction; the others get None."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gamehub import ledger, taxes
from gamehub.db import transaction, utcnow
from gamehub.models import Transaction
from gamehub.money import CENTS
from gamehub.runtime import Runtime
from gamehub.wallet.render import announce

log = logging.getLogger(__name__)

REASON_LENGTH = 255
# A deposit whose STK push is this young may still be waiting for its CheckoutRequestID.
PUSH_IN_FLIGHT = timedelta(minutes=2)

# Runs inside the settling transaction, after the money moved, only for the one call that
# settled the payment: an operator's resolution writes its audit entry there, so the two
# commit together (gamehub/admin/payments.py). The money a settlement moves has the same form.
OnSettled = Callable[[AsyncSession, Transaction], Awaitable[None]]


def cents_of(shillings: Decimal | None) -> int | None:
    """A callback's amount (shillings) in cents; None when absent or not whole cents."""
    if shillings is None or not shillings.is_finite():
        return None
    cents = shillings * CENTS
    return int(cents) if cents == cents.to_integral_value() else None


def _reason(text: str) -> str:
    return text.strip()[:REASON_LENGTH] or "M-Pesa reported a failure"


def _pending(*conditions: Any) -> Any:
    return update(Transaction).where(Transaction.status == "pending", *conditions)


async def _settle(
    rt: Runtime, statement: Any, move: OnSettled | None, on_settled: OnSettled | None
) -> Transaction | None:
    """Claim the row and, only if this call got it, move its money and run `on_settled` in one
    transaction; a receipt already used raises IntegrityError with nothing written."""
    async with transaction(rt.sessions) as session:
        row: Transaction | None = (
            await session.execute(statement.returning(Transaction))
        ).scalar_one_or_none()
        if row is None:
            return None
        if move is not None:
            await move(session, row)
        if on_settled is not None:
            await on_settled(session, row)
    await announce(rt, row, wallet=move is not None)
    return row


async def attach_checkout(
    rt: Runtime, transaction_id: int, checkout_request_id: str
) -> Transaction:
    """Record the CheckoutRequestID Daraja gave the STK push of a pending deposit."""
    async with transaction(rt.sessions) as session:
        await session.execute(
            update(Transaction)
            .where(Transaction.id == transaction_id, Transaction.provider_ref.is_(None))
            .values(provider_ref=checkout_request_id, updated_at=utcnow())
        )
        row = await session.get(Transaction, transaction_id)
        assert row is not None
        return row


async def complete_deposit(
    rt: Runtime,
    *,
    checkout_request_id: str,
    amount: int | None,
    receipt: str | None,
    on_settled: OnSettled | None = None,
) -> Transaction | None:
    """Credit a pending deposit exactly once. `amount` (cents) must match when given; a query
    (which reports no amount or receipt) passes None for both."""
    conditions = [Transaction.provider_ref == checkout_request_id, Transaction.type == "deposit"]
    if amount is not None:
        conditions.append(Transaction.amount == amount)
    statement = _pending(*conditions).values(
        status="completed", receipt=receipt, updated_at=utcnow()
    )

    async def credit(session: AsyncSession, row: Transaction) -> None:
        clearing = await ledger.account_id(session, ledger.MPESA_CLEARING)
        wallet = await ledger.open_wallet(session, row.user_id)
        await ledger.transfer(
            session,
            reference=f"deposit:{row.id}",
            kind="deposit",
            debit=clearing,
            credit=wallet,
            amount=row.amount,
        )
        await _deposit_excise(rt, session, row, wallet)

    try:
        return await _settle(rt, statement, credit, on_settled)
    except IntegrityError:
        # A replayed or forged callback: nothing was written.
        log.warning("deposit %s: receipt %s is already used", checkout_request_id, receipt)
        return None


async def _deposit_excise(
    rt: Runtime, session: AsyncSession, row: Transaction, wallet: int
) -> None:
    """The excise at the rate in force when the deposit was asked for, when configured."""
    due = taxes.tax_on(row.amount, taxes.rate_at(rt.settings.tax_deposit_excise, row.created_at))
    if due <= 0:
        return
    liability = await ledger.account_id(session, taxes.DEPOSIT_EXCISE_ACCOUNT, "tax")
    await ledger.transfer(
        session,
        reference=f"deposit:{row.id}:excise",
        kind="deposit_excise",
        debit=wallet,
        credit=liability,
        amount=due,
    )


async def fail_deposit(
    rt: Runtime,
    reason: str,
    *,
    checkout_request_id: str | None = None,
    row_id: int | None = None,
    on_settled: OnSettled | None = None,
) -> Transaction | None:
    """Mark a pending deposit failed (no money had moved); by CheckoutRequestID or by id."""
    if checkout_request_id is not None:
        key = Transaction.provider_ref == checkout_request_id
    else:
        key = Transaction.id == row_id
    statement = _pending(key, Transaction.type == "deposit").values(
        status="failed", failure_reason=_reason(reason), updated_at=utcnow()
    )
    return await _settle(rt, statement, None, on_settled)


async def complete_withdrawal(
    rt: Runtime,
    *,
    originator_conversation_id: str,
    amount: int | None,
    receipt: str | None,
    on_settled: OnSettled | None = None,
) -> Transaction | None:
    """Post a pending withdrawal's hold exactly once (its withholding tax to the tax account);
    `amount` is what M-Pesa paid, the amount less that tax."""
    if amount is None:
        log.warning("withdrawal %s: success without an amount", originator_conversation_id)
        return None
    statement = _pending(
        Transaction.provider_ref == originator_conversation_id,
        Transaction.type == "withdrawal",
        Transaction.amount - Transaction.tax_withheld == amount,
    ).values(status="completed", receipt=receipt, updated_at=utcnow())
    try:
        return await _settle(rt, statement, _post_hold, on_settled)
    except IntegrityError:
        log.warning(
            "withdrawal %s: receipt %s is already used", originator_conversation_id, receipt
        )
        return None


async def _post_hold(session: AsyncSession, row: Transaction) -> None:
    assert row.hold_id is not None, "a withdrawal is held when it is recorded"
    withheld = None
    if row.tax_withheld:
        account = await ledger.account_id(session, taxes.WITHDRAWAL_WITHHOLDING_ACCOUNT, "tax")
        withheld = ledger.Withheld(taxes.WITHDRAWAL_WITHHOLDING_KIND, account, row.tax_withheld)
    await ledger.post_hold(session, row.hold_id, kind="withdrawal", withheld=withheld)


async def _release_hold(session: AsyncSession, row: Transaction) -> None:
    assert row.hold_id is not None
    await ledger.release_hold(session, row.hold_id)


async def fail_withdrawal(
    rt: Runtime,
    reason: str,
    *,
    originator_conversation_id: str,
    on_settled: OnSettled | None = None,
) -> Transaction | None:
    """End a pending withdrawal as failed: its hold is released to the wallet exactly once."""
    statement = _pending(
        Transaction.provider_ref == originator_conversation_id, Transaction.type == "withdrawal"
    ).values(status="failed", failure_reason=_reason(reason), updated_at=utcnow())
    return await _settle(rt, statement, _release_hold, on_settled)


async def awaiting_checkout(rt: Runtime, checkout_request_id: str) -> bool:
    """True while a callback for an unknown CheckoutRequestID may be early rather than forged:
    no transaction has that id yet, and some recent deposit is still waiting for its id."""
    async with rt.sessions() as session:
        known = await session.scalar(
            select(exists().where(Transaction.provider_ref == checkout_request_id))
        )
        if known:
            return False
        waiting = await session.scalar(
            select(
                exists().where(
                    Transaction.type == "deposit",
                    Transaction.status == "pending",
                    Transaction.provider_ref.is_(None),
                    Transaction.created_at >= utcnow() - PUSH_IN_FLIGHT,
                )
            )
        )
        return bool(waiting)


async def find_pending(rt: Runtime, provider_ref: str, kind: str) -> Transaction | None:
    async with rt.sessions() as session:
        found: Transaction | None = await session.scalar(
            select(Transaction).where(
                Transaction.provider_ref == provider_ref,
                Transaction.type == kind,
                Transaction.status == "pending",
            )
        )
        return found
