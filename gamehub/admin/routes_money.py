"""HTTP endpoints of money: balance adjustments (four eyes) and the payments queue."""

from __future__ import annotations

from quart import Blueprint
from quart_schema import validate_querystring, validate_request, validate_response

from gamehub.admin import adjustments, payments
from gamehub.admin.guard import current_operator, operator_required
from gamehub.admin.schemas import (
    AdjustmentEnvelope,
    AdjustmentIn,
    AdjustmentOut,
    AdjustmentsOut,
    AdjustmentsQuery,
    PaymentEnvelope,
    PaymentOut,
    PaymentsOut,
    PaymentsQuery,
    ReasonIn,
    ResolveIn,
)
from gamehub.db import iso_utc
from gamehub.idempotency import idempotency_scope, idempotent
from gamehub.models import Adjustment
from gamehub.money import format_cents
from gamehub.runtime import runtime
from gamehub.wallet.render import transaction_out

blueprint = Blueprint("admin_money", __name__, url_prefix="/admin")


def _adjustment(row: Adjustment) -> AdjustmentOut:
    return AdjustmentOut(
        id=row.id,
        user_id=row.user_id,
        amount=format_cents(row.amount),
        reason=row.reason,
        status=row.status,
        requested_by=row.requested_by,
        requested_at=iso_utc(row.requested_at),
        approved_by=row.approved_by,
        rejected_by=row.rejected_by,
        posted_at=None if row.posted_at is None else iso_utc(row.posted_at),
    )


@blueprint.post("/adjustments")
@operator_required
@validate_request(AdjustmentIn)
@idempotent
@validate_response(AdjustmentEnvelope, 201)
@validate_response(AdjustmentEnvelope, 202)
async def create_adjustment(data: AdjustmentIn) -> tuple[AdjustmentEnvelope, int]:
    """Correct a balance with a reason: 201 posted, or 202 awaiting a second operator.
    Takes an optional Idempotency-Key, as the players' money-moving POSTs do."""
    row = await adjustments.request(
        runtime(),
        current_operator(),
        data.user_id,
        data.amount,
        data.reason,
        idempotency_scope(),
    )
    status = 201 if row.status == adjustments.POSTED else 202
    return AdjustmentEnvelope(adjustment=_adjustment(row)), status


@blueprint.post("/adjustments/<int:adjustment_id>/approve")
@operator_required
@validate_response(AdjustmentEnvelope)
async def approve_adjustment(adjustment_id: int) -> AdjustmentEnvelope:
    """Approve and post another operator's adjustment (your own: 403 four_eyes)."""
    row = await adjustments.approve(runtime(), current_operator(), adjustment_id)
    return AdjustmentEnvelope(adjustment=_adjustment(row))


@blueprint.post("/adjustments/<int:adjustment_id>/reject")
@operator_required
@validate_request(ReasonIn)
@validate_response(AdjustmentEnvelope)
async def reject_adjustment(adjustment_id: int, data: ReasonIn) -> AdjustmentEnvelope:
    """Turn down an adjustment awaiting approval, with a reason (nothing moves)."""
    row = await adjustments.reject(runtime(), current_operator(), adjustment_id, data.reason)
    return AdjustmentEnvelope(adjustment=_adjustment(row))


@blueprint.get("/adjustments")
@operator_required
@validate_querystring(AdjustmentsQuery)
@validate_response(AdjustmentsOut)
async def list_adjustments(query_args: AdjustmentsQuery) -> AdjustmentsOut:
    """Adjustments, newest first (`status=awaiting_approval`: the ones waiting for you)."""
    async with runtime().readers() as session:
        rows = await adjustments.listed(session, query_args.status, query_args.limit)
    return AdjustmentsOut(adjustments=[_adjustment(row) for row in rows])


@blueprint.get("/payments")
@operator_required
@validate_querystring(PaymentsQuery)
@validate_response(PaymentsOut)
async def payments_queue(query_args: PaymentsQuery) -> PaymentsOut:
    """Payments by status, oldest first: by default those the reconciler could not settle."""
    rt = runtime()
    older = query_args.older_than_s
    async with rt.readers() as session:
        rows = await payments.queue(
            session,
            status=query_args.status,
            older_than_s=rt.settings.reconcile_after_s if older is None else older,
            limit=query_args.limit,
        )
    return PaymentsOut(
        payments=[
            PaymentOut(**transaction_out(row).model_dump(), user_id=row.user_id, username=name)
            for row, name in rows
        ]
    )


@blueprint.post("/payments/<int:transaction_id>/resolve")
@operator_required
@validate_request(ResolveIn)
@validate_response(PaymentEnvelope)
async def resolve_payment(transaction_id: int, data: ResolveIn) -> PaymentEnvelope:
    """Settle a pending payment as completed or failed, with evidence, exactly once."""
    row = await payments.resolve(
        runtime(), current_operator(), transaction_id, data.outcome, data.evidence, data.receipt
    )
    return PaymentEnvelope(payment=transaction_out(row))


@blueprint.post("/payments/<int:transaction_id>/query")
@operator_required
@validate_response(PaymentEnvelope)
async def query_payment(transaction_id: int) -> PaymentEnvelope:
    """Ask M-Pesa about a pending payment again, now (as the reconciler does)."""
    row = await payments.query_again(runtime(), current_operator(), transaction_id)
    return PaymentEnvelope(payment=transaction_out(row))
