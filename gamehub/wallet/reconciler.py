"""The reconciler: every instance settles payments left pending by asking Daraja. A pass claims a
row by bumping `updated_at` only if unchanged: one instance per round, the next look spaced out."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select, update

from gamehub.db import transaction, utcnow
from gamehub.models import Transaction
from gamehub.mpesa.errors import DarajaError, DarajaUnavailable, TransactionInProgress
from gamehub.runtime import Runtime
from gamehub.tasks import Periodic
from gamehub.wallet import settle, withdrawals

log = logging.getLogger(__name__)

BATCH = 100
# A deposit whose STK push never got a CheckoutRequestID is failed once it is this old (and at
# least reconcile_after_s): the push's own request has certainly given up by then.
PUSH_ABANDONED = timedelta(seconds=60)


async def reconcile_once(rt: Runtime, *, older_than_s: float | None = None) -> int:
    """One pass over payments pending longer than `older_than_s`; how many it looked at."""
    age = timedelta(seconds=rt.settings.reconcile_after_s if older_than_s is None else older_than_s)
    async with rt.sessions() as session:
        candidates = (
            await session.execute(
                select(Transaction.id, Transaction.updated_at)
                .where(Transaction.status == "pending", Transaction.updated_at <= utcnow() - age)
                .order_by(Transaction.id)
                .limit(BATCH)
            )
        ).all()
    looked = 0
    for row_id, seen in candidates:
        row = await _claim(rt, row_id, seen)
        if row is None:
            continue  # another instance (or a callback) got there first
        looked += 1
        try:
            await check(rt, row, older_than_s=age.total_seconds())
        except Exception:
            log.exception("reconciling transaction %s failed; it is retried next pass", row.id)
    return looked


async def check(rt: Runtime, row: Transaction, *, older_than_s: float | None = None) -> None:
    """Settle one pending payment by asking Daraja, as a pass does (an operator's "query again")."""
    age = timedelta(seconds=rt.settings.reconcile_after_s if older_than_s is None else older_than_s)
    if row.type == "deposit":
        await _check_deposit(rt, row, age)
    else:
        await _check_withdrawal(rt, row)


async def _claim(rt: Runtime, row_id: int, seen: datetime) -> Transaction | None:
    async with transaction(rt.sessions) as session:
        claimed: Transaction | None = (
            await session.execute(
                update(Transaction)
                .where(
                    Transaction.id == row_id,
                    Transaction.status == "pending",
                    Transaction.updated_at == seen,
                )
                .values(updated_at=utcnow())
                .returning(Transaction)
            )
        ).scalar_one_or_none()
        return claimed


async def _check_deposit(rt: Runtime, row: Transaction, age: timedelta) -> None:
    if row.provider_ref is None:
        if row.created_at <= utcnow() - max(age, PUSH_ABANDONED):
            reason = "M-Pesa never confirmed the payment prompt"
            await settle.fail_deposit(rt, reason, row_id=row.id)
        return
    gateway = rt.gateway
    assert gateway is not None
    try:
        result = await gateway.client.stk_query(row.provider_ref)
    except TransactionInProgress:
        return  # the prompt is still open on the phone
    except (DarajaError, DarajaUnavailable) as error:
        log.warning("deposit %s: STK query failed: %s", row.id, error)
        return
    if result.succeeded:
        # The query reports neither amount nor receipt; the amount is the one we asked for.
        await settle.complete_deposit(
            rt, checkout_request_id=row.provider_ref, amount=None, receipt=None
        )
    else:
        reason = f"{result.result_desc} ({result.result_code})"
        await settle.fail_deposit(rt, reason, checkout_request_id=row.provider_ref)


async def _check_withdrawal(rt: Runtime, row: Transaction) -> None:
    # Sending again under the same OriginatorConversationID is the same payment: it covers a
    # B2C that never arrived (crash, network) and is a no-op for one Daraja already has.
    sent = await withdrawals.send_payment(rt, row)
    if sent == "refused":
        log.warning("withdrawal %s: B2C refused on resend; asking its status", row.id)
    await withdrawals.query_status(rt, row)


class Reconciler(Periodic):
    """Runs reconcile_once every `reconcile_interval_s` until stopped."""

    def __init__(self, rt: Runtime) -> None:
        interval_s = rt.settings.reconcile_interval_s
        super().__init__("reconciler", interval_s, lambda: reconcile_once(rt))
