"""The payments queue (gamehub/admin/payments.py): a payment the reconciler could not settle
is resolved by an operator exactly once, through the same settle path as a callback, whatever
callback arrives before or after."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from gamehub.models import AuditEntry, Transaction
from gamehub.mpesa import sandbox_bodies
from gamehub.wallet import withdrawals
from tests.admin.operators import SignedIn, operator
from tests.wallet.conftest import Live, new_player
from tests.wallet.flows import eventually, fund, phone, post, transaction_of, wallet


async def _not_found_withdrawal(live: Live) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """A withdrawal that M-Pesa's status query calls "not found": the sandbox pays it (04: no
    callback ever), then forgets it, as a provider that lost the request would. Returns the
    player, the transaction and the success callback the sandbox would have sent."""
    player = await new_player(live)
    await fund(live, player, 1000)
    response = await post(live, player, "/withdraw", {"amount": 300, "phone": phone("04")})
    assert response.status_code == 202, response.text
    started = response.json()["transaction"]
    payments = live.sandbox.state.payments
    ref = started["provider_ref"]

    async def paid() -> bool:
        return bool(ref in payments and payments[ref].status == "completed")

    await eventually(paid)
    late_success = sandbox_bodies.b2c_result(payments.pop(ref))
    # What the reconciler asks: the answer comes to the status callback and says "not found".
    async with live.rt.sessions() as session:
        row = await session.get(Transaction, started["id"])
    assert row is not None
    await withdrawals.query_status(live.rt, row)
    queries = live.sandbox.state.status_queries

    async def answered() -> bool:
        return bool(queries and queries[-1].callbacks and queries[-1].callbacks[-1].status_code)

    await eventually(answered)
    answer = queries[-1].callbacks[-1].body["Result"]
    assert answer["ResultDesc"] == sandbox_bodies.NOT_FOUND_DESC
    assert (await transaction_of(live, player, started["id"]))["status"] == "pending"
    assert (await wallet(live, player))["held"] == "300.00"
    return player, started, late_success


async def _staff(live: Live) -> SignedIn:
    return await operator(live.app.test_client(), live.rt)


async def test_a_not_found_withdrawal_is_resolved_once_whatever_comes_later(live: Live) -> None:
    player, started, late_success = await _not_found_withdrawal(live)
    staff = await _staff(live)
    client = live.app.test_client()

    queue = await client.get("/admin/payments?status=pending&older_than_s=0", headers=staff.headers)
    assert queue.status_code == 200, await queue.get_data(as_text=True)
    listed = (await queue.get_json())["payments"]
    assert [(p["id"], p["user_id"], p["type"]) for p in listed] == [
        (started["id"], player.id, "withdrawal")
    ]
    # Not old enough for the default (the reconciler's own age): not in the queue yet.
    young = await client.get("/admin/payments?older_than_s=3600", headers=staff.headers)
    assert (await young.get_json())["payments"] == []

    evidence = "Safaricom support ticket 7731: no such transaction on the B2C account"
    resolved = await client.post(
        f"/admin/payments/{started['id']}/resolve",
        json={"outcome": "failed", "evidence": evidence},
        headers=staff.headers,
    )
    assert resolved.status_code == 200, await resolved.get_data(as_text=True)
    payment = (await resolved.get_json())["payment"]
    assert payment["status"] == "failed"
    assert payment["failure_reason"] == f"Resolved by an operator: {evidence}"
    settled = {"balance": "1000.00", "held": "0.00", "available": "1000.00", "currency": "KES"}
    assert await wallet(live, player) == settled

    # Whatever comes later changes nothing: the lost success callback (three times), the
    # reconciler, another resolution either way.
    for _ in range(3):
        ack = await live.http.post(live.callback_url("b2c/result"), json=late_success)
        assert ack.json() == {"ResultCode": 0, "ResultDesc": "Accepted"}
    for outcome in ("completed", "failed"):
        again = await client.post(
            f"/admin/payments/{started['id']}/resolve",
            json={"outcome": outcome, "evidence": "again"},
            headers=staff.headers,
        )
        assert again.status_code == 409
        body = await again.get_json()
        assert body["error"]["code"] == "payment_not_pending"
        assert body["error"]["details"] == {"status": "failed"}
    assert await wallet(live, player) == settled
    assert (await transaction_of(live, player, started["id"]))["status"] == "failed"

    async with live.rt.sessions() as session:
        entries = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.subject == f"transaction:{started['id']}")
            )
        ).all()
    assert [(e.action, e.details["evidence"], e.actor) for e in entries] == [
        ("payment.resolved_failed", evidence, f"operator:{staff.user_id}")
    ]


async def test_a_resolution_racing_the_callback_settles_once(live: Live) -> None:
    player, started, late_success = await _not_found_withdrawal(live)
    staff = await _staff(live)
    client = live.app.test_client()
    resolution, callback = await asyncio.gather(
        client.post(
            f"/admin/payments/{started['id']}/resolve",
            json={
                "outcome": "completed",
                "evidence": "statement line 2026-12-05 QKX1",
                "receipt": "QKX1ABCDEF",
            },
            headers=staff.headers,
        ),
        live.http.post(live.callback_url("b2c/result"), json=late_success),
    )
    assert callback.status_code == 200
    assert resolution.status_code in (200, 409), await resolution.get_data(as_text=True)
    done = await transaction_of(live, player, started["id"])
    assert done["status"] == "completed"
    # Paid out once: the hold was posted once, whoever won.
    assert await wallet(live, player) == {
        "balance": "700.00",
        "held": "0.00",
        "available": "700.00",
        "currency": "KES",
    }
    async with live.rt.sessions() as session:
        entries = (
            await session.scalars(
                select(AuditEntry.action).where(
                    AuditEntry.subject == f"transaction:{started['id']}"
                )
            )
        ).all()
    # The audit entry exists exactly when the operator's resolution was the one that settled.
    assert entries == (["payment.resolved_completed"] if resolution.status_code == 200 else [])


async def test_query_again_and_refusals(live: Live) -> None:
    player = await new_player(live)
    staff = await _staff(live)
    client = live.app.test_client()
    # A deposit whose callback never comes (04): "query again" settles it by the STK query.
    response = await post(live, player, "/deposit", {"amount": 100, "phone": phone("04")})
    assert response.status_code == 202
    deposit = response.json()["transaction"]

    async def prompted() -> bool:
        row = await transaction_of(live, player, deposit["id"])
        return row["provider_ref"] is not None

    await eventually(prompted)

    async def answered() -> bool:
        queried = await client.post(f"/admin/payments/{deposit['id']}/query", headers=staff.headers)
        assert queried.status_code in (200, 409), await queried.get_data(as_text=True)
        return (
            queried.status_code == 409
            or (await queried.get_json())["payment"]["status"] == "completed"
        )

    await eventually(answered)
    assert (await wallet(live, player))["balance"] == "100.00"
    settled = await client.post(f"/admin/payments/{deposit['id']}/query", headers=staff.headers)
    assert settled.status_code == 409

    for body in (
        {"outcome": "lost", "evidence": "x"},
        {"outcome": "failed"},
        {"outcome": "failed", "evidence": ""},
        {"outcome": "completed", "evidence": "x", "receipt": "lower-case"},
    ):
        refused = await client.post(
            f"/admin/payments/{deposit['id']}/resolve", json=body, headers=staff.headers
        )
        assert refused.status_code == 422, body
    missing = await client.post(
        "/admin/payments/999999/resolve",
        json={"outcome": "failed", "evidence": "x"},
        headers=staff.headers,
    )
    assert missing.status_code == 404
    by_player = await client.get("/admin/payments", headers=player.headers)
    assert by_player.status_code == 403


async def test_a_deposit_resolved_as_completed_is_credited_once(live: Live) -> None:
    # 04: the customer paid, no callback ever came; the operator sees it on the statement.
    player = await new_player(live)
    response = await post(live, player, "/deposit", {"amount": 250, "phone": phone("04")})
    assert response.status_code == 202
    started = response.json()["transaction"]

    async def paid() -> bool:
        row = await transaction_of(live, player, started["id"])
        prompts = live.sandbox.state.prompts
        ref = row["provider_ref"]
        return bool(ref and ref in prompts and prompts[ref].status == "completed")

    await eventually(paid)
    prompt = live.sandbox.state.prompts[
        (await transaction_of(live, player, started["id"]))["provider_ref"]
    ]
    staff = await _staff(live)
    client = live.app.test_client()
    resolved = await client.post(
        f"/admin/payments/{started['id']}/resolve",
        json={"outcome": "completed", "evidence": "statement", "receipt": prompt.receipt},
        headers=staff.headers,
    )
    assert resolved.status_code == 200, await resolved.get_data(as_text=True)
    payment = (await resolved.get_json())["payment"]
    assert (payment["status"], payment["receipt"]) == ("completed", prompt.receipt)
    assert (await wallet(live, player))["balance"] == "250.00"
    # The callback that finally arrives (twice) changes nothing.
    for _ in range(2):
        ack = await live.http.post(
            live.callback_url("stk"), json=sandbox_bodies.stk_callback(prompt)
        )
        assert ack.status_code == 200
    assert (await wallet(live, player))["balance"] == "250.00"
