"""Deposits: the pending row first (no payment can arrive for a deposit we do not know), then the
STK push outside any database transaction (a slow Daraja holds no lock), then its id."""

from __future__ import annotations

import logging

from sqlalchemy import select

from gamehub.db import transaction, utcnow
from gamehub.models import Transaction, User
from gamehub.money import CENTS, format_cents
from gamehub.mpesa.errors import DarajaError, DarajaUnavailable
from gamehub.responsible import deposit_limits
from gamehub.runtime import Runtime
from gamehub.wallet import queries, settle
from gamehub.wallet.errors import DailyDepositLimit, MpesaRefused, MpesaUnavailable
from gamehub.wallet.limits import check_range
from gamehub.wallet.render import announce, transaction_out

log = logging.getLogger(__name__)


async def deposit(
    rt: Runtime, user_id: int, amount: int, phone: str, scope: str | None = None
) -> Transaction:
    """Ask `phone` to pay `amount` cents; a retry under the same `scope` gets the same deposit."""
    settings = rt.settings
    check_range(amount, settings.deposit_min_kes, settings.deposit_max_kes, "deposit")
    row, new = await queries.make_once(
        rt, user_id, scope, lambda: _record(rt, user_id, amount, phone, scope)
    )
    if not new:
        return row
    await announce(rt, row, wallet=False)
    return await _push(rt, row)


async def _record(
    rt: Runtime, user_id: int, amount: int, phone: str, scope: str | None
) -> Transaction:
    cap = rt.settings.daily_deposit_cap_kes * CENTS
    async with transaction(rt.sessions) as session:
        # One user's deposits queue here (a row lock on the user) so that two at once cannot
        # both fit under the cap.
        await session.execute(select(User.id).where(User.id == user_id).with_for_update())
        now = utcnow()
        recent = await deposit_limits.deposited(session, user_id, now)
        used = recent["day"]  # the daily cap counts the last 24 h
        if used + amount > cap:
            raise DailyDepositLimit(
                details={
                    "limit": format_cents(cap),
                    "used": format_cents(used),
                    "remaining": format_cents(max(cap - used, 0)),
                }
            )
        await deposit_limits.check_deposit(session, user_id, amount, recent, now)  # their own
        row = Transaction(
            user_id=user_id,
            type="deposit",
            status="pending",
            amount=amount,
            phone=phone,
            request_ref=scope,
        )
        session.add(row)
        await session.flush()
    return row


async def _push(rt: Runtime, row: Transaction) -> Transaction:
    gateway = rt.gateway
    assert gateway is not None
    try:
        accepted = await gateway.client.stk_push(
            phone=row.phone,
            amount=row.amount // CENTS,
            callback_url=gateway.callback_url("stk"),
            account_reference=f"GH{row.id}",
            description="Deposit",
        )
    except DarajaUnavailable as error:
        if error.may_have_arrived:
            # The prompt may be on the phone: keep the deposit pending. Without a
            # CheckoutRequestID the reconciler will end it as failed after a while.
            log.warning("deposit %s: STK push may have arrived: %s", row.id, error)
            return row
        failed = await settle.fail_deposit(rt, "M-Pesa could not be reached", row_id=row.id)
        raise MpesaUnavailable(
            details={"transaction": transaction_out(failed or row).model_dump()},
            headers={"Retry-After": "30"},
        ) from error
    except DarajaError as error:
        reason = f"M-Pesa refused the request: {error.error_message or error.error_code}"
        failed = await settle.fail_deposit(rt, reason, row_id=row.id)
        raise MpesaRefused(
            details={"transaction": transaction_out(failed or row).model_dump()}
        ) from error
    return await settle.attach_checkout(rt, row.id, accepted.checkout_request_id)
