"""HTTP endpoint of the audit trail (read-only: nothing can write to it from outside)."""

from __future__ import annotations

from quart import Blueprint
from quart_schema import validate_querystring, validate_response

from gamehub.admin import audit
from gamehub.admin.guard import operator_required
from gamehub.admin.schemas import AuditEntryOut, AuditOut, AuditQuery
from gamehub.db import iso_utc
from gamehub.runtime import runtime

blueprint = Blueprint("admin_audit", __name__, url_prefix="/admin")


@blueprint.get("/audit")
@operator_required
@validate_querystring(AuditQuery)
@validate_response(AuditOut)
async def entries(query_args: AuditQuery) -> AuditOut:
    """The audit trail, newest first: every operator action and every money movement."""
    async with runtime().readers() as session:
        found = await audit.page(session, before=query_args.before, limit=query_args.limit)
    return AuditOut(
        entries=[
            AuditEntryOut(
                id=entry.id,
                at=iso_utc(entry.at),
                actor=entry.actor,
                action=entry.action,
                subject=entry.subject,
                details=entry.details,
                address=entry.address,
                prev_hash=entry.prev_hash,
                hash=entry.hash,
            )
            for entry in found.entries
        ],
        next_before=found.next_before,
    )
