"""Withdrawals: hold the amount and record the payout in one transaction, then pay it by B2C under
our own OriginatorConversationID, so that sending it again is the same payment, never a second."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from sqlalchemy import select

from gamehub import faults, ledger, taxes
from gamehub.db import transaction, utcnow
from gamehub.models import Transaction, User
from gamehub.money import CENTS, format_cents
from gamehub.mpesa.errors import DarajaError, DarajaUnavailable
from gamehub.phone import normalise_phone
from gamehub.runtime import Runtime
from gamehub.wallet import queries, settle
from gamehub.wallet.errors import AmountOutOfRange, MpesaRefused, PhoneRequired
from gamehub.wallet.limits import check_range
from gamehub.wallet.render import announce, transaction_out

log = logging.getLogger(__name__)

# Daraja's answer to an OriginatorConversationID it has already seen: it has our payment.
DUPLICATE = "500.002.1001"
# OriginatorConversationIDs of keyed withdrawals: uuid5 of the key's scope in this namespace.
_OCID_NAMESPACE = uuid.UUID("6f1d1c52-52c7-4c1e-9a53-3f0d4d0a7e21")


async def withdraw(
    rt: Runtime, user_id: int, amount: int, phone: str | None, scope: str | None = None
) -> Transaction:
    """Hold `amount` cents at once (409 insufficient_funds), then pay it out; a retry under the
    same `scope` gets the same withdrawal and never holds or pays again."""
    settings = rt.settings
    check_range(amount, settings.withdraw_min_kes, settings.withdraw_max_kes, "withdrawal")
    row, new = await queries.make_once(
        rt, user_id, scope, lambda: _hold(rt, user_id, amount, phone, scope)
    )
    if not new:
        return row
    faults.crash_point(settings.faults, faults.WITHDRAWAL_HELD)
    await announce(rt, row, wallet=True)
    if await send_payment(rt, row) == "refused":
        failed = await settle.fail_withdrawal(
            rt, "M-Pesa refused the payout request", originator_conversation_id=_ref(row)
        )
        raise MpesaRefused(details={"transaction": transaction_out(failed or row).model_dump()})
    return row


def _ref(row: Transaction) -> str:
    assert row.provider_ref is not None, "a withdrawal gets its OriginatorConversationID at once"
    return row.provider_ref


def _originator_conversation_id(scope: str | None) -> str:
    return str(uuid.uuid4() if scope is None else uuid.uuid5(_OCID_NAMESPACE, scope))


async def _hold(
    rt: Runtime, user_id: int, amount: int, phone: str | None, scope: str | None
) -> Transaction:
    async with transaction(rt.sessions) as session:
        if phone is None:
            profile_phone = await session.scalar(select(User.phone).where(User.id == user_id))
            if not profile_phone:
                raise PhoneRequired()
            phone = normalise_phone(profile_phone)
        now = utcnow()
        tax = _withholding(rt, amount, now)
        row = Transaction(
            user_id=user_id,
            type="withdrawal",
            status="pending",
            amount=amount,
            phone=phone,
            provider_ref=_originator_conversation_id(scope),
            request_ref=scope,
            tax_withheld=tax,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        await session.flush()
        wallet = await ledger.open_wallet(session, user_id)
        clearing = await ledger.account_id(session, ledger.MPESA_CLEARING)
        # Raises InsufficientFunds (409) and rolls the transaction row back with it.
        held = await ledger.hold(
            session,
            reference=f"withdrawal:{scope or row.id}",
            kind="withdrawal",
            debit=wallet,
            credit=clearing,
            amount=amount,
        )
        row.hold_id = held.hold_id
        await session.flush()
    return row


def _withholding(rt: Runtime, amount: int, now: datetime) -> int:
    """The withholding tax on a withdrawal of `amount` asked for `now` (0 when none is
    configured); 422 when what would be paid out is below the smallest withdrawal."""
    rates = rt.settings.tax_withdrawal_withholding
    if not rates:
        return 0
    tax = taxes.withdrawal_withholding(amount, taxes.rate_at(rates, now))
    minimum = rt.settings.withdraw_min_kes * CENTS
    if amount - tax < minimum:
        raise AmountOutOfRange(
            f"After the withholding tax of {format_cents(tax)} KES, this withdrawal would pay"
            f" {format_cents(amount - tax)} KES, below the {format_cents(minimum)} KES minimum.",
            details={
                "fields": [{"field": "amount", "message": "out of range", "type": "range"}],
                "minimum": format_cents(minimum),
                "tax_withheld": format_cents(tax),
                "net_amount": format_cents(amount - tax),
            },
        )
    return tax


async def send_payment(rt: Runtime, row: Transaction) -> str:
    """Send (again) a pending withdrawal's B2C: "accepted", "refused" (nothing was paid) or
    "unknown" (it may have arrived: the reconciler resends it under the same id and asks)."""
    gateway = rt.gateway
    assert gateway is not None
    try:
        await gateway.client.b2c_payment(
            originator_conversation_id=_ref(row),
            phone=row.phone,
            amount=row.net_amount // CENTS,  # less the withholding tax, if any
            result_url=gateway.callback_url("b2c/result"),
            timeout_url=gateway.callback_url("b2c/timeout"),
            remarks="Game Hub withdrawal",
            occasion=f"GH{row.id}",
        )
    except DarajaUnavailable as error:
        log.warning("withdrawal %s: B2C not confirmed: %s", row.id, error)
        return "unknown"
    except DarajaError as error:
        if error.error_code == DUPLICATE:
            return "accepted"  # Daraja already has this OriginatorConversationID
        if error.status_code >= 500:
            log.warning("withdrawal %s: B2C answered %s", row.id, error)
            return "unknown"
        log.warning("withdrawal %s: B2C refused: %s", row.id, error)
        return "refused"
    except ValueError as error:  # e.g. no certificate configured for the SecurityCredential
        log.error("withdrawal %s: B2C cannot be sent: %s", row.id, error)
        return "refused"
    return "accepted"


async def query_status(rt: Runtime, row: Transaction) -> None:
    """Ask Daraja what became of a withdrawal; the answer comes to the b2c/status callback.
    Occasion repeats our id, so that even a "not found" answer names its withdrawal."""
    gateway = rt.gateway
    assert gateway is not None
    try:
        await gateway.client.transaction_status(
            result_url=gateway.callback_url("b2c/status"),
            timeout_url=gateway.callback_url("b2c/timeout"),
            original_conversation_id=_ref(row),
            remarks="Withdrawal status",
            occasion=_ref(row),
        )
    except (DarajaError, DarajaUnavailable, ValueError) as error:
        log.warning("withdrawal %s: status query failed: %s", row.id, error)
