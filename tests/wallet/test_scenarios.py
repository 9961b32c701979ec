"""Every sandbox scenario 00-09 end to end through /deposit and /withdraw, over real HTTP: the
app's Daraja client calls the in-process sandbox, whose callbacks come back to the app."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gamehub.wallet.reconciler import reconcile_once
from tests.wallet.conftest import Live, Player, new_player
from tests.wallet.flows import eventually, fund, phone, post, settled, transaction_of, wallet


async def _deposit(live: Live, scenario: str, amount: int = 100) -> tuple[Player, dict[str, Any]]:
    player = await new_player(live)
    response = await post(live, player, "/deposit", {"amount": amount, "phone": phone(scenario)})
    assert response.status_code == 202, response.text
    return player, response.json()["transaction"]


async def test_00_deposit_completes(live: Live) -> None:
    player, started = await _deposit(live, "00")
    assert started["status"] == "pending" and started["type"] == "deposit"
    assert started["provider_ref"].startswith("ws_CO_")
    assert started["amount"] == "100.00" and started["phone"] == phone("00")
    done = await settled(live, player, started["id"])
    assert done["status"] == "completed" and done["receipt"] and done["failure_reason"] is None
    assert done["created_at"].endswith("Z") and done["updated_at"].endswith("Z")
    assert await wallet(live, player) == {
        "balance": "100.00",
        "held": "0.00",
        "available": "100.00",
        "currency": "KES",
    }


@pytest.mark.parametrize(
    ("scenario", "code"), [("01", "1032"), ("02", "(1)"), ("03", "2001"), ("06", "1037")]
)
async def test_failed_prompts_move_no_money(live: Live, scenario: str, code: str) -> None:
    player, started = await _deposit(live, scenario)
    done = await settled(live, player, started["id"])
    assert done["status"] == "failed" and done["receipt"] is None
    assert code in done["failure_reason"]
    assert (await wallet(live, player))["balance"] == "0.00"


async def test_04_deposit_completes_through_the_reconcilers_query(live: Live) -> None:
    player, started = await _deposit(live, "04")
    checkout = started["provider_ref"]
    prompts = live.sandbox.state.prompts

    async def paid() -> bool:
        return bool(prompts[checkout].status == "completed")

    await eventually(paid)
    await asyncio.sleep(0.1)  # no callback is coming
    assert (await transaction_of(live, player, started["id"]))["status"] == "pending"
    assert await reconcile_once(live.rt, older_than_s=0) == 1
    done = await transaction_of(live, player, started["id"])
    assert done["status"] == "completed"
    assert (await wallet(live, player))["balance"] == "100.00"
    # Another pass finds nothing left to do and moves no more money.
    assert await reconcile_once(live.rt, older_than_s=0) == 0
    assert (await wallet(live, player))["balance"] == "100.00"


async def test_05_three_callbacks_credit_once(live: Live) -> None:
    player, started = await _deposit(live, "05", amount=250)
    prompt = live.sandbox.state.prompts[started["provider_ref"]]

    async def all_delivered() -> bool:
        return len(prompt.callbacks) == 3 and all(c.status_code for c in prompt.callbacks)

    await eventually(all_delivered)
    assert [c.status_code for c in prompt.callbacks] == [200, 200, 200]
    done = await transaction_of(live, player, started["id"])
    assert done["status"] == "completed" and done["receipt"] == prompt.receipt
    assert (await wallet(live, player))["balance"] == "250.00"


async def test_07_deposit_completes_after_the_delay(live: Live) -> None:
    player, started = await _deposit(live, "07")
    await asyncio.sleep(0.2)  # scaled: 30 s is 0.6 s here
    assert (await transaction_of(live, player, started["id"]))["status"] == "pending"
    done = await settled(live, player, started["id"])
    assert done["status"] == "completed"
    assert (await wallet(live, player))["balance"] == "100.00"


async def _withdraw(live: Live, scenario: str, amount: int = 300) -> tuple[Player, dict[str, Any]]:
    player = await new_player(live)
    await fund(live, player, 1000)
    response = await post(live, player, "/withdraw", {"amount": amount, "phone": phone(scenario)})
    assert response.status_code == 202, response.text
    started = response.json()["transaction"]
    assert started["type"] == "withdrawal" and started["status"] == "pending"
    return player, started


@pytest.mark.parametrize("scenario", ["00", "01", "02", "03", "06", "07"])
async def test_withdrawal_pays_out(live: Live, scenario: str) -> None:
    # STK-only failures (01/02/03/06) are plain successes over B2C; 07 only takes longer.
    player, started = await _withdraw(live, scenario)
    held = await wallet(live, player)
    if held["held"] == "300.00":  # held at once (unless already paid out)
        assert held["available"] == "700.00"
    done = await settled(live, player, started["id"])
    assert done["status"] == "completed" and done["receipt"]
    assert done["provider_ref"] == started["provider_ref"]
    assert await wallet(live, player) == {
        "balance": "700.00",
        "held": "0.00",
        "available": "700.00",
        "currency": "KES",
    }


async def test_04_withdrawal_completes_through_status_query(live: Live) -> None:
    player, started = await _withdraw(live, "04")
    payments = live.sandbox.state.payments

    async def paid() -> bool:
        return bool(payments[started["provider_ref"]].status == "completed")

    await eventually(paid)
    assert (await wallet(live, player))["held"] == "300.00"
    assert await reconcile_once(live.rt, older_than_s=0) == 1
    done = await settled(live, player, started["id"])
    assert done["status"] == "completed"
    assert done["receipt"] == payments[started["provider_ref"]].transaction_id
    assert (await wallet(live, player))["balance"] == "700.00"
    assert len(payments) == 1  # the resend under the same id was the same payment


async def test_05_withdrawal_posted_once_despite_three_results(live: Live) -> None:
    player, started = await _withdraw(live, "05")
    payment = live.sandbox.state.payments[started["provider_ref"]]

    async def all_delivered() -> bool:
        return len(payment.callbacks) == 3 and all(c.status_code for c in payment.callbacks)

    await eventually(all_delivered)
    assert (await transaction_of(live, player, started["id"]))["status"] == "completed"
    assert await wallet(live, player) == {
        "balance": "700.00",
        "held": "0.00",
        "available": "700.00",
        "currency": "KES",
    }


async def test_08_timeout_then_status_query_completes_once(live: Live) -> None:
    player, started = await _withdraw(live, "08")
    done = await settled(live, player, started["id"])
    assert done["status"] == "completed"
    payment = live.sandbox.state.payments[started["provider_ref"]]
    assert [c.kind for c in payment.callbacks] == ["timeout"]
    assert done["receipt"] == payment.transaction_id
    queries = live.sandbox.state.status_queries
    assert [q.original_conversation_id for q in queries] == [started["provider_ref"]]
    # The same answer again (a replayed status result) changes nothing.
    await live.http.post(live.callback_url("b2c/status"), json=queries[0].callbacks[0].body)
    assert (await wallet(live, player))["balance"] == "700.00"
    assert (await wallet(live, player))["held"] == "0.00"


async def test_09_failed_payout_releases_the_hold(live: Live) -> None:
    player, started = await _withdraw(live, "09")
    done = await settled(live, player, started["id"])
    assert done["status"] == "failed" and "2001" in done["failure_reason"]
    assert done["receipt"] is None
    assert await wallet(live, player) == {
        "balance": "1000.00",
        "held": "0.00",
        "available": "1000.00",
        "currency": "KES",
    }
