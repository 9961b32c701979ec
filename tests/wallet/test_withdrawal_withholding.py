"""Withholding tax on withdrawals (GAMEHUB_TAX_WITHDRAWAL_WITHHOLDING, off by default), over real
HTTP with the built-in Daraja sandbox: the tax in force when a withdrawal is asked for is fixed
then, the whole amount is held, B2C pays the amount less the tax, and once paid the wallet gives
the whole amount, the liability account gets the tax and M-Pesa clearing the rest, exactly once
whatever settles it; a failed payout releases everything and takes no tax."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from gamehub import ledger, taxes
from gamehub.models import Account, AuditEntry, Transaction, Transfer
from gamehub.mpesa import sandbox_bodies
from gamehub.settings import Settings, SettingsError, load_settings
from gamehub.wallet import withdrawals
from gamehub.wallet.reconciler import reconcile_once
from tests.admin.operators import operator
from tests.wallet.conftest import Live, Player, new_player
from tests.wallet.flows import eventually, fund, phone, post, settled, transaction_of, wallet

# Kenya's rule as reported from the Finance Act, 2025 (docs/OPERATIONS.md): 5 % of every
# withdrawal from 1 July 2025.
KENYA = "5%@2025-07-01"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_overrides(tax_withdrawal_withholding=taxes.parse_rates(KENYA))


async def _withdraw(
    live: Live, scenario: str, amount: int, funds: int = 2000
) -> tuple[Player, dict[str, Any]]:
    player = await new_player(live)
    await fund(live, player, funds)
    response = await post(live, player, "/withdraw", {"amount": amount, "phone": phone(scenario)})
    assert response.status_code == 202, response.text
    return player, response.json()["transaction"]


async def _sent(live: Live, started: dict[str, Any]) -> int:
    """The amount (KES) the sandbox received in the B2C request, read over HTTP."""
    answer = await live.http.get(f"/sandbox/daraja/sandbox/api/b2c/{started['provider_ref']}")
    assert answer.status_code == 200, answer.text
    amount: int = answer.json()["amount"]
    return amount


async def _books(live: Live) -> tuple[int, int, int]:
    """(M-Pesa clearing's balance, the withdrawal tax account's balance, its transfers)."""
    async with live.rt.sessions() as session:
        clearing = await session.scalar(
            select(Account.balance).where(Account.code == ledger.MPESA_CLEARING)
        )
        liability = await session.scalar(
            select(Account.balance).where(Account.code == taxes.WITHDRAWAL_WITHHOLDING_ACCOUNT)
        )
        moved = await session.scalar(
            select(func.count())
            .select_from(Transfer)
            .where(Transfer.kind == taxes.WITHDRAWAL_WITHHOLDING_KIND)
        )
    return int(clearing or 0), int(liability or 0), int(moved or 0)


async def _check(live: Live) -> None:
    staff = await operator(live.app.test_client(), live.rt)
    checked = await live.app.test_client().get("/admin/ledger/check", headers=staff.headers)
    assert (await checked.get_json()) == {"ok": True, "problems": []}


async def test_the_tax_is_held_sent_net_and_posted_once_paid(live: Live) -> None:
    clearing_before, _, _ = await _books(live)
    # 04: the sandbox pays without calling back; the reconciler's status query settles it.
    player, started = await _withdraw(live, "04", 1001)
    # 5 % of 1001.00 is 50.05, rounded down to the shilling M-Pesa can pay: 50.00.
    assert (started["amount"], started["tax_withheld"], started["net_amount"]) == (
        "1001.00",
        "50.00",
        "951.00",
    )
    assert await wallet(live, player) == {
        "balance": "2000.00",
        "held": "1001.00",
        "available": "999.00",
        "currency": "KES",
    }
    payments = live.sandbox.state.payments

    async def paid() -> bool:
        return bool(payments[started["provider_ref"]].status == "completed")

    await eventually(paid)
    assert await _sent(live, started) == 951
    assert await reconcile_once(live.rt, older_than_s=0) == 1
    done = await settled(live, player, started["id"])
    assert done["status"] == "completed"
    assert (done["tax_withheld"], done["net_amount"]) == ("50.00", "951.00")
    assert await wallet(live, player) == {
        "balance": "999.00",
        "held": "0.00",
        "available": "999.00",
        "currency": "KES",
    }
    clearing, liability, moved = await _books(live)
    # Clearing paid the 2000.00 funding out and got the 951.00 paid to the phone.
    assert (clearing - clearing_before, liability, moved) == (-200_000 + 95_100, 5_000, 1)
    async with live.rt.sessions() as session:
        row = await session.get(Transaction, started["id"])
        assert row is not None and row.hold_id is not None
        withheld = await session.scalar(
            select(Transfer).where(Transfer.kind == taxes.WITHDRAWAL_WITHHOLDING_KIND)
        )
    assert withheld is not None
    assert (withheld.reference, withheld.amount) == (f"hold:{row.hold_id}:withholding", 5_000)

    listed = await live.http.get("/transactions", headers=player.headers)
    [shown] = [t for t in listed.json()["transactions"] if t["id"] == started["id"]]
    assert (shown["tax_withheld"], shown["net_amount"]) == ("50.00", "951.00")

    staff = await operator(live.app.test_client(), live.rt)
    today = datetime.now(UTC).date().isoformat()
    client = live.app.test_client()
    report = await client.get(
        f"/admin/reports/taxes?from={today}&to={today}", headers=staff.headers
    )
    assert report.status_code == 200, await report.get_data(as_text=True)
    body = await report.get_json()
    assert body["days"] == [
        {
            "day": today,
            "tax": "withdrawal_withholding",
            "base": "1001.00",
            "amount": "50.00",
            "count": 1,
        }
    ]
    assert body["total"] == "50.00"
    as_csv = await client.get(
        f"/admin/reports/taxes.csv?from={today}&to={today}", headers=staff.headers
    )
    assert as_csv.status_code == 200
    assert (await as_csv.get_data(as_text=True)).splitlines() == [
        "day,tax,base,amount,count",
        f"{today},withdrawal_withholding,1001.00,50.00,1",
    ]
    await _check(live)


async def test_a_failed_payout_releases_the_whole_hold_and_takes_no_tax(live: Live) -> None:
    clearing_before, _, _ = await _books(live)
    player, started = await _withdraw(live, "09", 1000)
    assert started["tax_withheld"] == "50.00"
    done = await settled(live, player, started["id"])
    assert done["status"] == "failed"
    assert await _sent(live, started) == 950
    assert await wallet(live, player) == {
        "balance": "2000.00",
        "held": "0.00",
        "available": "2000.00",
        "currency": "KES",
    }
    assert await _books(live) == (clearing_before - 200_000, 0, 0)  # only the funding
    await _check(live)


async def test_three_results_take_the_tax_once(live: Live) -> None:
    player, started = await _withdraw(live, "05", 400)
    payment = live.sandbox.state.payments[started["provider_ref"]]

    async def all_delivered() -> bool:
        return len(payment.callbacks) == 3 and all(c.status_code for c in payment.callbacks)

    await eventually(all_delivered)
    assert payment.amount == 380
    assert (await transaction_of(live, player, started["id"]))["status"] == "completed"
    assert (await wallet(live, player))["balance"] == "1600.00"
    _, liability, moved = await _books(live)
    assert (liability, moved) == (2_000, 1)


async def _paid_silently(live: Live, amount: int) -> tuple[Player, dict[str, Any], dict[str, Any]]:
    """A withdrawal the sandbox paid without calling back (04), and the success callback it
    would have sent."""
    player, started = await _withdraw(live, "04", amount)
    payments = live.sandbox.state.payments

    async def paid() -> bool:
        return bool(payments[started["provider_ref"]].status == "completed")

    await eventually(paid)
    return player, started, sandbox_bodies.b2c_result(payments[started["provider_ref"]])


async def test_the_reconciler_racing_the_callback_takes_the_tax_once(live: Live) -> None:
    player, started, success = await _paid_silently(live, 600)
    await asyncio.gather(
        reconcile_once(live.rt, older_than_s=0),
        live.http.post(live.callback_url("b2c/result"), json=success),
        live.http.post(live.callback_url("b2c/result"), json=success),
    )
    done = await settled(live, player, started["id"])
    assert done["status"] == "completed"
    assert await wallet(live, player) == {
        "balance": "1400.00",
        "held": "0.00",
        "available": "1400.00",
        "currency": "KES",
    }
    _, liability, moved = await _books(live)
    assert (liability, moved) == (3_000, 1)


async def test_an_operator_resolving_after_the_callback_changes_nothing(live: Live) -> None:
    player, started, success = await _paid_silently(live, 300)
    ack = await live.http.post(live.callback_url("b2c/result"), json=success)
    assert ack.status_code == 200
    assert (await settled(live, player, started["id"]))["status"] == "completed"
    staff = await operator(live.app.test_client(), live.rt)
    late = await live.app.test_client().post(
        f"/admin/payments/{started['id']}/resolve",
        json={"outcome": "completed", "evidence": "statement line", "receipt": "QKX2ABCDEF"},
        headers=staff.headers,
    )
    assert late.status_code == 409
    assert (await wallet(live, player))["balance"] == "1700.00"
    _, liability, moved = await _books(live)
    assert (liability, moved) == (1_500, 1)


async def test_an_operator_resolution_posts_the_tax(live: Live) -> None:
    player, started, _ = await _paid_silently(live, 300)
    # Forget it, as a provider that lost the request would: only an operator can settle it.
    live.sandbox.state.payments.pop(started["provider_ref"])
    staff = await operator(live.app.test_client(), live.rt)
    resolved = await live.app.test_client().post(
        f"/admin/payments/{started['id']}/resolve",
        json={"outcome": "completed", "evidence": "statement line", "receipt": "QKX3ABCDEF"},
        headers=staff.headers,
    )
    assert resolved.status_code == 200, await resolved.get_data(as_text=True)
    payment = (await resolved.get_json())["payment"]
    assert (payment["status"], payment["tax_withheld"], payment["net_amount"]) == (
        "completed",
        "15.00",
        "285.00",
    )
    assert (await wallet(live, player))["balance"] == "1700.00"
    _, liability, moved = await _books(live)
    assert (liability, moved) == (1_500, 1)
    async with live.rt.sessions() as session:
        noted = await session.scalar(
            select(AuditEntry).where(AuditEntry.subject == f"transaction:{started['id']}")
        )
    assert noted is not None
    assert (noted.details["amount"], noted.details["tax_withheld"]) == (30_000, 1_500)
    await _check(live)


async def test_a_callback_for_the_gross_amount_changes_nothing(live: Live) -> None:
    """M-Pesa paid the net amount: a success naming the whole amount is not this payment's."""
    player, started, success = await _paid_silently(live, 300)
    for item in success["Result"]["ResultParameters"]["ResultParameter"]:
        if item["Key"] == "TransactionAmount":
            item["Value"] = 300
    await live.http.post(live.callback_url("b2c/result"), json=success)
    assert (await transaction_of(live, player, started["id"]))["status"] == "pending"
    assert (await wallet(live, player))["held"] == "300.00"
    assert await reconcile_once(live.rt, older_than_s=0) == 1
    assert (await settled(live, player, started["id"]))["status"] == "completed"


@pytest.mark.parametrize("rates", ["", "5%@2999-01-01"])
async def test_nothing_is_withheld_when_off_or_before_the_rate_is_in_force(
    live: Live, rates: str
) -> None:
    live.rt.settings = live.rt.settings.with_overrides(
        tax_withdrawal_withholding=taxes.parse_rates(rates)
    )
    clearing_before, _, _ = await _books(live)
    player, started = await _withdraw(live, "00", 1001)
    assert (started["tax_withheld"], started["net_amount"]) == ("0.00", "1001.00")
    done = await settled(live, player, started["id"])
    assert done["status"] == "completed"
    assert await _sent(live, started) == 1001
    assert (await wallet(live, player))["balance"] == "999.00"
    clearing, liability, moved = await _books(live)
    assert (clearing - clearing_before, liability, moved) == (-200_000 + 100_100, 0, 0)


async def test_a_payout_below_the_minimum_after_the_tax_is_refused(live: Live) -> None:
    live.rt.settings = live.rt.settings.with_overrides(
        tax_withdrawal_withholding=taxes.parse_rates("20%@2020-01-01")
    )
    player = await new_player(live)
    await fund(live, player, 100)
    # 20 % of 10.00 is 2.00: 8.00 is below the 10 KES minimum.
    refused = await post(live, player, "/withdraw", {"amount": 10, "phone": phone("00")})
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "amount_out_of_range"
    assert (error["details"]["tax_withheld"], error["details"]["net_amount"]) == ("2.00", "8.00")
    assert "below the 10.00 KES minimum" in error["message"]
    assert (await wallet(live, player))["held"] == "0.00"
    async with live.rt.sessions() as session:
        made = await session.scalar(
            select(func.count()).select_from(Transaction).where(Transaction.user_id == player.id)
        )
    assert made == 0
    # 20 % of 13.00 is 2.60, rounded down to 2.00: 11.00 is paid.
    accepted = await post(live, player, "/withdraw", {"amount": 13, "phone": phone("00")})
    assert accepted.status_code == 202, accepted.text
    started = accepted.json()["transaction"]
    assert (started["tax_withheld"], started["net_amount"]) == ("2.00", "11.00")
    assert (await settled(live, player, started["id"]))["status"] == "completed"
    assert await _sent(live, started) == 11


async def test_a_resend_pays_the_same_net_amount(live: Live) -> None:
    """The reconciler's resend of a withdrawal is the same payment: same id, same net amount
    (the tax was fixed with the withdrawal, not recomputed under today's settings)."""
    player, started, _ = await _paid_silently(live, 500)
    live.rt.settings = live.rt.settings.with_overrides(tax_withdrawal_withholding=())
    async with live.rt.sessions() as session:
        row = await session.get(Transaction, started["id"])
    assert row is not None
    assert await withdrawals.send_payment(live.rt, row) == "accepted"
    assert await _sent(live, started) == 475
    assert await reconcile_once(live.rt, older_than_s=0) == 1
    assert (await settled(live, player, started["id"]))["status"] == "completed"
    _, liability, _ = await _books(live)
    assert liability == 2_500


def test_the_tax_is_rounded_down_to_the_shilling() -> None:
    assert taxes.withdrawal_withholding(100_100, 500) == 5_000  # 50.05 → 50.00
    assert taxes.withdrawal_withholding(100_000, 500) == 5_000
    assert taxes.withdrawal_withholding(1_900, 500) == 0  # 0.95 → nothing
    assert taxes.withdrawal_withholding(2_000, 500) == 100
    assert taxes.withdrawal_withholding(100_000, 1250) == 12_500
    assert taxes.withdrawal_withholding(99_900, 1250) == 12_400  # 124.875 → 124.00


def test_the_setting_is_parsed_as_the_other_taxes_are() -> None:
    loaded = load_settings({"GAMEHUB_TAX_WITHDRAWAL_WITHHOLDING": KENYA})
    assert [
        (r.basis_points, r.effective_from.isoformat()) for r in loaded.tax_withdrawal_withholding
    ] == [(500, "2025-07-01")]
    with pytest.raises(SettingsError, match="TAX_WITHDRAWAL_WITHHOLDING"):
        load_settings({"GAMEHUB_TAX_WITHDRAWAL_WITHHOLDING": "5 percent"})
    assert load_settings({}).tax_withdrawal_withholding == ()
