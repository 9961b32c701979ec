"""Provider callbacks: concurrent duplicates credit once; forged, mismatched, replayed and
malformed callbacks change nothing and still get Daraja's acknowledgement (never a 500)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from tests.wallet.conftest import Live, Player, new_player
from tests.wallet.flows import eventually, fund, phone, post, settled, transaction_of, wallet

ACK = {"ResultCode": 0, "ResultDesc": "Accepted"}


def stk_success(checkout: str, amount: Any, receipt: str) -> dict[str, Any]:
    return {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": "29115-34620561-1",
                "CheckoutRequestID": checkout,
                "ResultCode": 0,
                "ResultDesc": "The service request is processed successfully.",
                "CallbackMetadata": {
                    "Item": [
                        {"Name": "Amount", "Value": amount},
                        {"Name": "MpesaReceiptNumber", "Value": receipt},
                        {"Name": "Balance"},
                        {"Name": "TransactionDate", "Value": 20240101120000},
                        {"Name": "PhoneNumber", "Value": int(phone("04"))},
                    ]
                },
            }
        }
    }


def stk_failure(checkout: str) -> dict[str, Any]:
    return {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": "29115-34620561-1",
                "CheckoutRequestID": checkout,
                "ResultCode": 1032,
                "ResultDesc": "Request cancelled by user",
            }
        }
    }


def b2c_result(ref: str, amount: Any, receipt: str, code: int = 0) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ResultType": 0,
        "ResultCode": code,
        "ResultDesc": "done",
        "OriginatorConversationID": ref,
        "ConversationID": "AG_20240101_0000",
        "TransactionID": receipt,
    }
    if code == 0:
        result["ResultParameters"] = {
            "ResultParameter": [
                {"Key": "TransactionAmount", "Value": amount},
                {"Key": "TransactionReceipt", "Value": receipt},
            ]
        }
    return {"Result": result}


async def _quiet_deposit(live: Live, amount: int = 100) -> tuple[Player, dict[str, Any]]:
    """A pending deposit whose prompt was paid but whose callback never comes (scenario 04)."""
    player = await new_player(live)
    response = await post(live, player, "/deposit", {"amount": amount, "phone": phone("04")})
    assert response.status_code == 202
    started: dict[str, Any] = response.json()["transaction"]
    prompt = live.sandbox.state.prompts[started["provider_ref"]]

    async def settled_at_sandbox() -> bool:
        return bool(prompt.status != "open")

    await eventually(settled_at_sandbox)
    return player, started


async def test_fifty_identical_success_callbacks_credit_once(live: Live) -> None:
    player, started = await _quiet_deposit(live)
    body = stk_success(started["provider_ref"], 100, "SGR7Q2XK1P")
    url = live.callback_url("stk")
    responses = await asyncio.gather(*(live.http.post(url, json=body) for _ in range(50)))
    assert [r.status_code for r in responses] == [200] * 50
    assert all(r.json() == ACK for r in responses)
    done = await transaction_of(live, player, started["id"])
    assert done["status"] == "completed" and done["receipt"] == "SGR7Q2XK1P"
    assert (await wallet(live, player))["balance"] == "100.00"


async def test_forged_and_mismatched_callbacks_change_nothing(live: Live) -> None:
    player, started = await _quiet_deposit(live)
    url = live.callback_url("stk")
    ref = started["provider_ref"]
    forged = [
        stk_success("ws_CO_000000000000000000000", 100, "FAKE000001"),  # unknown id
        stk_success(ref, 1000, "FAKE000002"),  # wrong amount
        stk_success(ref, "99.5", "FAKE000003"),  # not the amount either
        stk_success(ref, None, "FAKE000004"),  # no amount at all
    ]
    for body in forged:
        response = await live.http.post(url, json=body)
        assert (response.status_code, response.json()) == (200, ACK)
    assert (await transaction_of(live, player, started["id"]))["status"] == "pending"

    wrong_secret = await live.http.post(
        "/payments/callbacks/not-the-secret/stk", json=stk_success(ref, 100, "FAKE000005")
    )
    assert wrong_secret.status_code == 404
    assert wrong_secret.headers["content-type"].startswith("application/json")
    assert wrong_secret.json()["error"]["code"] == "not_found"
    assert (await live.http.post("/payments/callbacks//stk", json={})).status_code == 404

    # The genuine one completes it; replays of it, a second receipt or a late failure do not.
    real = stk_success(ref, 100, "REAL000001")
    assert (await live.http.post(url, json=real)).json() == ACK
    for replay in (real, stk_success(ref, 100, "REAL000002"), stk_failure(ref)):
        assert (await live.http.post(url, json=replay)).json() == ACK
    done = await transaction_of(live, player, started["id"])
    assert (done["status"], done["receipt"]) == ("completed", "REAL000001")
    assert (await wallet(live, player))["balance"] == "100.00"


async def test_a_receipt_completes_only_one_deposit(live: Live) -> None:
    first_player, first = await _quiet_deposit(live)
    second_player, second = await _quiet_deposit(live)
    url = live.callback_url("stk")
    await live.http.post(url, json=stk_success(first["provider_ref"], 100, "DUPRECEIPT"))
    response = await live.http.post(
        url, json=stk_success(second["provider_ref"], 100, "DUPRECEIPT")
    )
    assert (response.status_code, response.json()) == (200, ACK)
    assert (await transaction_of(live, first_player, first["id"]))["status"] == "completed"
    assert (await transaction_of(live, second_player, second["id"]))["status"] == "pending"
    assert (await wallet(live, second_player))["balance"] == "0.00"


@pytest.mark.parametrize("kind", ["stk", "b2c/result", "b2c/timeout", "b2c/status"])
async def test_malformed_bodies_are_acknowledged(live: Live, kind: str) -> None:
    url = live.callback_url(kind)
    for content in (b"", b"not json", b"{", b"[]", b"{}", b'{"Body": 1}', b'{"Result": []}'):
        response = await live.http.post(
            url, content=content, headers={"Content-Type": "application/json"}
        )
        assert (response.status_code, response.json()) == (200, ACK), content
    odd = {"Result": {"ResultCode": "x", "OriginatorConversationID": {"a": 1}}}
    assert (await live.http.post(url, json=odd)).json() == ACK


async def test_unreadable_callbacks_change_nothing(live: Live) -> None:
    """A success that is not UTF-8, or buried thousands deep, is read as no callback at all:
    acknowledged at once, and the deposit stays pending."""
    player, started = await _quiet_deposit(live)
    url = live.callback_url("stk")
    real = json.dumps(stk_success(started["provider_ref"], 100, "UNREAD0001")).encode()
    for content in (
        real.replace(b"UNREAD0001", b"UNREAD\xff001"),
        b"\xff\xfe" + real,
        b'{"Body":' * 10_000 + real + b"}" * 10_000,
        b"[" * 10_000 + real + b"]" * 10_000,
    ):
        began = time.perf_counter()
        response = await live.http.post(
            url, content=content, headers={"Content-Type": "application/json"}
        )
        assert (response.status_code, response.json()) == (200, ACK), content[:20]
        assert time.perf_counter() - began < 1.0, content[:20]
    assert (await transaction_of(live, player, started["id"]))["status"] == "pending"
    assert (await wallet(live, player))["balance"] == "0.00"


async def test_forged_payout_results_change_nothing(live: Live) -> None:
    player = await new_player(live)
    await fund(live, player, 1000)
    response = await post(live, player, "/withdraw", {"amount": 400, "phone": phone("04")})
    started = response.json()["transaction"]
    ref = started["provider_ref"]
    url = live.callback_url("b2c/result")
    for body in (
        b2c_result(ref, 4000, "FAKEB2C001"),  # wrong amount
        b2c_result("not-our-id", 400, "FAKEB2C002"),  # unknown id
        b2c_result(ref, None, "FAKEB2C003"),  # no amount
    ):
        assert (await live.http.post(url, json=body)).json() == ACK
    assert (await wallet(live, player))["held"] == "400.00"
    assert (await transaction_of(live, player, started["id"]))["status"] == "pending"
    # A timeout for an unknown payout asks nothing of Daraja.
    timeout = b2c_result("not-our-id", None, "", code=1)
    assert (await live.http.post(live.callback_url("b2c/timeout"), json=timeout)).json() == ACK

    assert (await live.http.post(url, json=b2c_result(ref, 400, "REALB2C001"))).json() == ACK
    # Once paid, a failure for it must not hand the money back.
    late_failure = b2c_result(ref, None, "", code=2001)
    assert (await live.http.post(url, json=late_failure)).json() == ACK
    done = await settled(live, player, started["id"])
    assert (done["status"], done["receipt"]) == ("completed", "REALB2C001")
    assert await wallet(live, player) == {
        "balance": "600.00",
        "held": "0.00",
        "available": "600.00",
        "currency": "KES",
    }


async def test_callback_allowlist(live: Live) -> None:
    settings = live.rt.settings
    live.rt.settings = settings.with_overrides(mpesa_callback_allowlist=("10.9.9.9",))
    try:
        refused = await live.http.post(live.callback_url("stk"), json={})
        assert refused.status_code == 403
    finally:
        live.rt.settings = settings
    live.rt.settings = settings.with_overrides(mpesa_callback_allowlist=("127.0.0.1",))
    try:
        assert (await live.http.post(live.callback_url("stk"), json={})).json() == ACK
    finally:
        live.rt.settings = settings


UNREADABLE_CODES: list[Any] = ["abc", "", " ", "1.5", 1.5, "0x1", True, None, [], {}, "R000002"]


async def test_a_deposit_callback_with_an_unreadable_result_code_changes_nothing(
    live: Live,
) -> None:
    """`"ResultCode": "abc"` is neither a success nor a failure we can read: acknowledged, the
    deposit stays pending (the reconciler's query settles it), and a real callback still
    completes it afterwards."""
    player, started = await _quiet_deposit(live)
    url = live.callback_url("stk")
    for code in UNREADABLE_CODES:
        for body in (
            stk_failure(started["provider_ref"]),
            stk_success(started["provider_ref"], 100, "ODDCODE001"),
        ):
            body["Body"]["stkCallback"]["ResultCode"] = code
            response = await live.http.post(url, json=body)
            assert (response.status_code, response.json()) == (200, ACK), code
    # An unreadable receipt in an otherwise good success is unreadable too.
    odd_receipt = stk_success(started["provider_ref"], 100, "ODDCODE002")
    odd_receipt["Body"]["stkCallback"]["CallbackMetadata"]["Item"][1]["Value"] = {"a": 1}
    assert (await live.http.post(url, json=odd_receipt)).json() == ACK
    assert (await transaction_of(live, player, started["id"]))["status"] == "pending"
    assert (await wallet(live, player))["balance"] == "0.00"

    await live.http.post(url, json=stk_success(started["provider_ref"], 100, "REALCODE01"))
    assert (await transaction_of(live, player, started["id"]))["status"] == "completed"


async def test_a_payout_result_with_an_unreadable_result_code_changes_nothing(
    live: Live,
) -> None:
    player = await new_player(live)
    await fund(live, player, 1000)
    response = await post(live, player, "/withdraw", {"amount": 400, "phone": phone("04")})
    started = response.json()["transaction"]
    url = live.callback_url("b2c/result")
    for code in UNREADABLE_CODES:
        body = b2c_result(started["provider_ref"], 400, "ODDB2C0001")
        body["Result"]["ResultCode"] = code
        assert (await live.http.post(url, json=body)).json() == ACK, code
    assert (await wallet(live, player))["held"] == "400.00"
    assert (await transaction_of(live, player, started["id"]))["status"] == "pending"
    # A readable failure still releases the hold.
    failure = b2c_result(started["provider_ref"], None, "", code=2001)
    assert (await live.http.post(url, json=failure)).json() == ACK
    assert (await transaction_of(live, player, started["id"]))["status"] == "failed"
    assert (await wallet(live, player))["held"] == "0.00"
