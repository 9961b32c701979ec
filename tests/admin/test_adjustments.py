"""Balance adjustments (gamehub/admin/adjustments.py): through the ledger with a reason; from
the configured size on, a second operator approves them (four eyes)."""

from __future__ import annotations

import asyncio

from quart import Quart
from sqlalchemy import delete, select

from gamehub import ledger
from gamehub.models import AuditEntry, IdempotencyRecord, Transfer
from gamehub.runtime import EXTENSION, Runtime
from tests.admin.operators import operator
from tests.funding import books_balance, fund
from tests.helpers import bearer, error_of, register


def _runtime(app: Quart) -> Runtime:
    runtime: Runtime = app.extensions[EXTENSION]
    return runtime


async def _wallet(client: object, token: str) -> dict[str, str]:
    response = await client.get("/wallet", headers=bearer(token))  # type: ignore[attr-defined]
    body: dict[str, str] = await response.get_json()
    return body


async def test_a_small_adjustment_is_posted_at_once_through_the_ledger(app: Quart) -> None:
    runtime = _runtime(app)
    client = app.test_client()
    staff = await operator(client, runtime)
    player = await register(client)
    user_id = player["user"]["id"]
    await fund(runtime, user_id, 10_000)

    credit = await client.post(
        "/admin/adjustments",
        json={"user_id": user_id, "amount": "250.50", "reason": "goodwill, ticket 17"},
        headers=staff.headers,
    )
    assert credit.status_code == 201, await credit.get_data(as_text=True)
    adjustment = (await credit.get_json())["adjustment"]
    assert adjustment["status"] == "posted" and adjustment["amount"] == "250.50"
    assert adjustment["requested_by"] == staff.user_id and adjustment["approved_by"] is None
    debit = await client.post(
        "/admin/adjustments",
        json={"user_id": user_id, "amount": "-50", "reason": "double credit, ticket 18"},
        headers=staff.headers,
    )
    assert debit.status_code == 201
    assert (await debit.get_json())["adjustment"]["amount"] == "-50.00"
    assert (await _wallet(client, player["access_token"]))["balance"] == "300.50"

    async with runtime.sessions() as session:
        transfers = (
            await session.scalars(
                select(Transfer).where(Transfer.kind == "adjustment").order_by(Transfer.id)
            )
        ).all()
        wallet = await ledger.open_wallet(session, user_id)
        adjustments = await ledger.account_id(session, ledger.ADJUSTMENTS)
        entries = (
            await session.scalars(
                select(AuditEntry.action).where(AuditEntry.subject.like("adjustment:%"))
            )
        ).all()
    assert [(t.debit_account_id, t.credit_account_id, t.amount) for t in transfers] == [
        (adjustments, wallet, 25_050),
        (wallet, adjustments, 5_000),
    ]
    assert [t.reference for t in transfers] == [
        f"adjustment:{adjustment['id']}",
        f"adjustment:{(await debit.get_json())['adjustment']['id']}",
    ]
    assert entries == ["adjustment.posted", "adjustment.posted"]
    assert await books_balance(runtime) == []

    too_much = await client.post(
        "/admin/adjustments",
        json={"user_id": user_id, "amount": "-5000", "reason": "more than there is"},
        headers=staff.headers,
    )
    assert too_much.status_code == 409
    assert (await error_of(too_much))["code"] == "insufficient_funds"
    assert (await _wallet(client, player["access_token"]))["balance"] == "300.50"


async def test_a_large_adjustment_waits_for_a_second_operator(app: Quart) -> None:
    runtime = _runtime(app)
    client = app.test_client()
    first = await operator(client, runtime)
    second = await operator(client, runtime)
    player = await register(client)
    user_id = player["user"]["id"]
    limit = runtime.settings.adjustment_approval_kes

    requested = await client.post(
        "/admin/adjustments",
        json={"user_id": user_id, "amount": str(limit), "reason": "lost jackpot, ticket 9"},
        headers=first.headers,
    )
    assert requested.status_code == 202, await requested.get_data(as_text=True)
    adjustment = (await requested.get_json())["adjustment"]
    assert adjustment["status"] == "awaiting_approval" and adjustment["posted_at"] is None
    assert (await _wallet(client, player["access_token"]))["balance"] == "0.00"

    waiting = await client.get(
        "/admin/adjustments?status=awaiting_approval", headers=second.headers
    )
    assert [a["id"] for a in (await waiting.get_json())["adjustments"]] == [adjustment["id"]]

    own = await client.post(f"/admin/adjustments/{adjustment['id']}/approve", headers=first.headers)
    assert own.status_code == 403
    assert (await error_of(own))["code"] == "four_eyes"
    assert (await _wallet(client, player["access_token"]))["balance"] == "0.00"

    # Two approvals at once (a double click, two approvers): posted once.
    approvals = await asyncio.gather(
        *(
            client.post(f"/admin/adjustments/{adjustment['id']}/approve", headers=second.headers)
            for _ in range(3)
        )
    )
    assert sorted(r.status_code for r in approvals) == [200, 409, 409]
    approved = next(r for r in approvals if r.status_code == 200)
    body = (await approved.get_json())["adjustment"]
    assert body["status"] == "posted" and body["approved_by"] == second.user_id
    for refused in approvals:
        if refused.status_code == 409:
            assert (await error_of(refused))["code"] == "adjustment_not_awaiting"
    assert (await _wallet(client, player["access_token"]))["balance"] == f"{limit}.00"
    # Negative ones just as large wait too; just below the limit does not.
    below = await client.post(
        "/admin/adjustments",
        json={"user_id": user_id, "amount": f"-{limit - 1}.99", "reason": "reversal"},
        headers=first.headers,
    )
    assert below.status_code == 201
    large_debit = await client.post(
        "/admin/adjustments",
        json={"user_id": user_id, "amount": f"-{limit}", "reason": "reversal"},
        headers=first.headers,
    )
    assert large_debit.status_code == 202
    async with runtime.sessions() as session:
        actions = (
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.subject == f"adjustment:{adjustment['id']}")
                .order_by(AuditEntry.id)
            )
        ).all()
    assert actions == ["adjustment.requested", "adjustment.approved"]
    assert await books_balance(runtime) == []


async def test_adjustment_refusals(app: Quart) -> None:
    runtime = _runtime(app)
    client = app.test_client()
    staff = await operator(client, runtime)
    player = await register(client)
    user_id = player["user"]["id"]
    for body in (
        {"user_id": user_id, "amount": "0", "reason": "r"},
        {"user_id": user_id, "amount": "-0.00", "reason": "r"},
        {"user_id": user_id, "amount": "1.005", "reason": "r"},
        {"user_id": user_id, "amount": "--5", "reason": "r"},
        {"user_id": user_id, "amount": "NaN", "reason": "r"},
        {"user_id": user_id, "amount": True, "reason": "r"},
        {"user_id": user_id, "amount": "5"},
        {"user_id": user_id, "amount": "5", "reason": " "},
        {"user_id": 0, "amount": "5", "reason": "r"},
        {"user_id": user_id, "amount": "5", "reason": "r", "status": "posted"},
    ):
        refused = await client.post("/admin/adjustments", json=body, headers=staff.headers)
        assert refused.status_code == 422, body
        assert (await error_of(refused))["code"] == "validation_error"
    unknown = await client.post(
        "/admin/adjustments",
        json={"user_id": 999_999, "amount": "5", "reason": "r"},
        headers=staff.headers,
    )
    assert unknown.status_code == 404
    assert (
        await client.post("/admin/adjustments/999999/approve", headers=staff.headers)
    ).status_code == 404
    by_player = await client.post(
        "/admin/adjustments",
        json={"user_id": user_id, "amount": "5", "reason": "r"},
        headers=bearer(player["access_token"]),
    )
    assert by_player.status_code == 403
    assert (await error_of(by_player))["code"] == "operator_token_required"


async def test_an_adjustment_awaiting_approval_can_be_turned_down(app: Quart) -> None:
    runtime = _runtime(app)
    client = app.test_client()
    first = await operator(client, runtime)
    second = await operator(client, runtime)
    player = await register(client)
    limit = runtime.settings.adjustment_approval_kes
    requested = await client.post(
        "/admin/adjustments",
        json={"user_id": player["user"]["id"], "amount": str(limit), "reason": "typo?"},
        headers=first.headers,
    )
    adjustment_id = (await requested.get_json())["adjustment"]["id"]
    missing_reason = await client.post(
        f"/admin/adjustments/{adjustment_id}/reject", json={}, headers=second.headers
    )
    assert missing_reason.status_code == 422
    rejected = await client.post(
        f"/admin/adjustments/{adjustment_id}/reject",
        json={"reason": "no ticket behind it"},
        headers=second.headers,
    )
    assert rejected.status_code == 200, await rejected.get_data(as_text=True)
    body = (await rejected.get_json())["adjustment"]
    assert (body["status"], body["rejected_by"], body["approved_by"]) == (
        "rejected",
        second.user_id,
        None,
    )
    late = await client.post(f"/admin/adjustments/{adjustment_id}/approve", headers=second.headers)
    assert late.status_code == 409
    assert (await error_of(late))["code"] == "adjustment_not_awaiting"
    assert (await _wallet(client, player["access_token"]))["balance"] == "0.00"


async def test_an_idempotency_key_asks_once(app: Quart) -> None:
    runtime = _runtime(app)
    client = app.test_client()
    staff = await operator(client, runtime)
    player = await register(client)
    body = {"user_id": player["user"]["id"], "amount": "75", "reason": "refund, ticket 3"}
    headers = {**staff.headers, "Idempotency-Key": "adjust-3"}
    first = await client.post("/admin/adjustments", json=body, headers=headers)
    again = await client.post("/admin/adjustments", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await again.get_json() == await first.get_json()
    assert (await _wallet(client, player["access_token"]))["balance"] == "75.00"
    other = await client.post("/admin/adjustments", json={**body, "amount": "76"}, headers=headers)
    assert other.status_code == 422
    assert (await error_of(other))["code"] == "idempotency_key_reused"
    # A retry whose first attempt's record was lost (a crash) finds the adjustment it made.
    async with runtime.sessions() as session, session.begin():
        await session.execute(delete(IdempotencyRecord))
    retried = await client.post("/admin/adjustments", json=body, headers=headers)
    assert retried.status_code == 201
    assert (await retried.get_json())["adjustment"]["id"] == (await first.get_json())["adjustment"][
        "id"
    ]
    assert (await _wallet(client, player["access_token"]))["balance"] == "75.00"
