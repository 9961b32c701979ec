"""Balance adjustments: an operator's correction of a player's wallet, through the ledger; from
GAMEHUB_ADJUSTMENT_APPROVAL_KES on, only once a second operator approves (four eyes)."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gamehub import ledger
from gamehub.admin import audit
from gamehub.admin.guard import CurrentOperator
from gamehub.db import transaction, utcnow
from gamehub.errors import Conflict, Forbidden, NotFound
from gamehub.models import Adjustment, User
from gamehub.money import CENTS, format_cents
from gamehub.runtime import Runtime
from gamehub.userstream import publish_wallet

log = logging.getLogger(__name__)

AWAITING = "awaiting_approval"
POSTED = "posted"
REJECTED = "rejected"


class FourEyes(Forbidden):
    code = "four_eyes"
    message = "An adjustment this size needs a second operator: you cannot approve your own."


class NotAwaiting(Conflict):
    code, message = "adjustment_not_awaiting", "That adjustment is not awaiting approval."


async def _post(session: AsyncSession, adjustment: Adjustment) -> None:
    """Move the money (InsufficientFunds, 409, if a debit is more than the wallet has free)."""
    wallet = await ledger.open_wallet(session, adjustment.user_id)
    adjustments = await ledger.account_id(session, ledger.ADJUSTMENTS)
    debit, credit = (adjustments, wallet) if adjustment.amount > 0 else (wallet, adjustments)
    moved = await ledger.transfer(
        session,
        reference=f"adjustment:{adjustment.id}",
        kind="adjustment",
        debit=debit,
        credit=credit,
        amount=abs(adjustment.amount),
    )
    adjustment.status = POSTED
    adjustment.posted_at = utcnow()
    adjustment.transfer_id = moved.transfer_id
    await session.flush()


async def _note(
    session: AsyncSession,
    operator: CurrentOperator,
    action: str,
    adjustment: Adjustment,
    **more: object,
) -> None:
    """The adjustment's entry in the audit trail, in the transaction that changed it."""
    details = {
        "user_id": adjustment.user_id,
        "amount": format_cents(adjustment.amount),
        "reason": adjustment.reason,
        "status": adjustment.status,
        **more,
    }
    await audit.by_operator(session, operator, action, f"adjustment:{adjustment.id}", details)


async def request(
    rt: Runtime,
    operator: CurrentOperator,
    user_id: int,
    amount: int,
    reason: str,
    scope: str | None = None,
) -> Adjustment:
    """Record (and, below the approval size, post) an adjustment. With an Idempotency-Key's
    `scope`, a retry finds the adjustment an earlier attempt made instead of making another."""
    if scope is not None:
        async with rt.sessions() as session:
            earlier = await session.scalar(
                select(Adjustment).where(Adjustment.request_ref == scope)
            )
        if earlier is not None:
            return earlier
    async with transaction(rt.sessions) as session:
        if await session.get(User, user_id) is None:
            raise NotFound("No such player.")
        adjustment = Adjustment(
            user_id=user_id,
            amount=amount,
            reason=reason,
            status=AWAITING,
            requested_by=operator.id,
            requested_at=utcnow(),
            request_ref=scope,
        )
        session.add(adjustment)
        await session.flush()
        if abs(amount) < rt.settings.adjustment_approval_kes * CENTS:
            await _post(session, adjustment)
        action = "adjustment.posted" if adjustment.status == POSTED else "adjustment.requested"
        await _note(session, operator, action, adjustment)
    if adjustment.status == POSTED:
        await _announce(rt, user_id)
    return adjustment


async def approve(rt: Runtime, operator: CurrentOperator, adjustment_id: int) -> Adjustment:
    async with transaction(rt.sessions) as session:
        adjustment = await _awaiting(session, adjustment_id)
        if adjustment.requested_by == operator.id:
            raise FourEyes()
        adjustment.approved_by = operator.id
        await _post(session, adjustment)
        requested_by = adjustment.requested_by
        await _note(session, operator, "adjustment.approved", adjustment, requested_by=requested_by)
    await _announce(rt, adjustment.user_id)
    return adjustment


async def reject(
    rt: Runtime, operator: CurrentOperator, adjustment_id: int, reason: str
) -> Adjustment:
    """Turn down an adjustment awaiting approval (the requester may withdraw their own)."""
    async with transaction(rt.sessions) as session:
        adjustment = await _awaiting(session, adjustment_id)
        adjustment.status = REJECTED
        adjustment.rejected_by = operator.id
        await session.flush()
        await _note(session, operator, "adjustment.rejected", adjustment, rejection=reason)
    return adjustment


async def _awaiting(session: AsyncSession, adjustment_id: int) -> Adjustment:
    """The adjustment, locked, if it still awaits a second operator."""
    adjustment = await session.get(Adjustment, adjustment_id, with_for_update=True)
    if adjustment is None:
        raise NotFound("No such adjustment.")
    if adjustment.status != AWAITING:
        raise NotAwaiting(details={"status": adjustment.status})
    return adjustment


async def listed(session: AsyncSession, status: str | None, limit: int) -> list[Adjustment]:
    statement = select(Adjustment)
    if status is not None:
        statement = statement.where(Adjustment.status == status)
    return list(await session.scalars(statement.order_by(Adjustment.id.desc()).limit(limit)))


async def _announce(rt: Runtime, user_id: int) -> None:
    """The player's open pages see their new balance (after the commit; best effort)."""
    try:
        await publish_wallet(rt.broker, rt.sessions, user_id)
    except Exception:
        log.exception("wallet event after an adjustment of user %s not published", user_id)
