"""STK Push through our client against the sandbox over HTTP: every scenario, callbacks, queries."""

from __future__ import annotations

import asyncio
import itertools
import re
from dataclasses import replace
from typing import Any

import httpx
import pytest

from gamehub.mpesa.callbacks import parse_stk_callback
from gamehub.mpesa.client import DarajaClient
from gamehub.mpesa.errors import DarajaError, TransactionInProgress
from tests.mpesa.conftest import FAST, RunningSandbox, StartSandbox
from tests.mpesa.servers import CallbackReceiver

PAID = (0, "The service request is processed successfully.")
FAILURES = {
    "01": (1032, "Request cancelled by user"),
    "02": (1, "The balance is insufficient for the transaction."),
    "03": (2001, "The initiator information is invalid."),
    "06": (1037, "DS timeout user cannot be reached"),
}


async def push(client: DarajaClient, receiver: CallbackReceiver, phone: str, amount: int = 100):
    return await client.stk_push(
        phone=phone,
        amount=amount,
        callback_url=receiver.url("/stk"),
        account_reference="GameHub",
        description="Deposit",
    )


def assert_paid_callback(body: dict[str, Any], accepted: Any, phone: str, amount: int) -> None:
    assert list(body) == ["Body"] and list(body["Body"]) == ["stkCallback"]
    stk = body["Body"]["stkCallback"]
    assert stk["MerchantRequestID"] == accepted.merchant_request_id
    assert stk["CheckoutRequestID"] == accepted.checkout_request_id
    assert stk["ResultCode"] == 0 and isinstance(stk["ResultCode"], int)
    assert stk["ResultDesc"] == PAID[1]
    items = {item["Name"]: item.get("Value") for item in stk["CallbackMetadata"]["Item"]}
    assert set(items) == {
        "Amount",
        "MpesaReceiptNumber",
        "Balance",
        "TransactionDate",
        "PhoneNumber",
    }
    assert items["Amount"] == amount
    assert re.fullmatch(r"[A-Z][A-Z0-9]{9}", items["MpesaReceiptNumber"])
    assert isinstance(items["TransactionDate"], int) and len(str(items["TransactionDate"])) == 14
    assert items["PhoneNumber"] == int(phone)


@pytest.mark.parametrize("phone", ["254708374100", "254712345642", "254712345608", "254712345609"])
async def test_success_scenarios_call_back_once_and_the_query_agrees(
    client: DarajaClient, receiver: CallbackReceiver, phone: str
) -> None:
    accepted = await push(client, receiver, phone, amount=250)
    assert accepted.checkout_request_id.startswith("ws_CO_")
    assert accepted.customer_message == "Success. Request accepted for processing"
    (body,) = await receiver.wait_for("/stk")
    assert_paid_callback(body, accepted, phone, 250)
    parsed = parse_stk_callback(body)
    assert parsed.succeeded and parsed.amount == 250 and parsed.phone == phone
    answer = await client.stk_query(accepted.checkout_request_id)
    assert answer.result_code == 0 and answer.succeeded
    await asyncio.sleep(0.15)
    assert len(receiver.bodies("/stk")) == 1


@pytest.mark.parametrize("ending", sorted(FAILURES))
async def test_failure_scenarios_call_back_their_result_code(
    daraja: RunningSandbox, client: DarajaClient, receiver: CallbackReceiver, ending: str
) -> None:
    accepted = await push(client, receiver, f"2547123456{ending}")
    (body,) = await receiver.wait_for("/stk")
    code, description = FAILURES[ending]
    assert body == {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": accepted.merchant_request_id,
                "CheckoutRequestID": accepted.checkout_request_id,
                "ResultCode": code,
                "ResultDesc": description,
            }
        }
    }
    assert parse_stk_callback(body).receipt is None
    # The query's ResultCode is a string on the wire.
    async with httpx.AsyncClient() as http:
        token = await client.access_token()
        password, timestamp = client._stk_secret()
        raw = await http.post(
            daraja.base_url + "/mpesa/stkpushquery/v1/query",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "BusinessShortCode": "174379",
                "Password": password,
                "Timestamp": timestamp,
                "CheckoutRequestID": accepted.checkout_request_id,
            },
        )
    assert raw.status_code == 200
    assert raw.json() == {
        "ResponseCode": "0",
        "ResponseDescription": "The service request has been accepted successsfully",
        "MerchantRequestID": accepted.merchant_request_id,
        "CheckoutRequestID": accepted.checkout_request_id,
        "ResultCode": str(code),
        "ResultDesc": description,
    }
    answer = await client.stk_query(accepted.checkout_request_id)
    assert answer.result_code == code and not answer.succeeded


async def test_04_pays_but_never_calls_back_and_the_query_tells_the_truth(
    client: DarajaClient, receiver: CallbackReceiver
) -> None:
    accepted = await push(client, receiver, "254712345604")
    await asyncio.sleep(0.4)
    assert receiver.bodies("/stk") == []
    answer = await client.stk_query(accepted.checkout_request_id)
    assert answer.succeeded and answer.result_desc == PAID[1]


async def test_05_sends_the_same_callback_three_times_spaced_apart(
    client: DarajaClient, receiver: CallbackReceiver
) -> None:
    accepted = await push(client, receiver, "254712345605", amount=10)
    bodies = await receiver.wait_for("/stk", count=3)
    assert bodies[0] == bodies[1] == bodies[2]
    assert_paid_callback(bodies[0], accepted, "254712345605", 10)
    times = receiver.times("/stk")
    assert all(later - earlier >= 0.08 for earlier, later in itertools.pairwise(times))
    await asyncio.sleep(0.2)
    assert len(receiver.bodies("/stk")) == 3


async def test_07_is_slow_and_the_query_says_processing_until_then(
    client: DarajaClient, receiver: CallbackReceiver, daraja: RunningSandbox
) -> None:
    accepted = await push(client, receiver, "254712345607")
    with pytest.raises(TransactionInProgress) as pending:
        await client.stk_query(accepted.checkout_request_id)
    assert pending.value.error_code == "500.001.1001"
    assert pending.value.error_message == "The transaction is being processed"
    assert pending.value.request_id
    assert set(pending.value.body) == {"requestId", "errorCode", "errorMessage"}
    await asyncio.sleep(0.1)
    assert receiver.bodies("/stk") == []
    (body,) = await receiver.wait_for("/stk")
    assert body["Body"]["stkCallback"]["ResultCode"] == 0
    assert (await client.stk_query(accepted.checkout_request_id)).succeeded


async def test_wrong_passkey_fails_the_password_check(daraja: RunningSandbox) -> None:
    async with daraja.client(passkey="0" * 64) as wrong:
        with pytest.raises(DarajaError) as refused:
            await wrong.stk_push(
                phone="254712345600",
                amount=1,
                callback_url="http://127.0.0.1:9/stk",
                account_reference="GameHub",
                description="Deposit",
            )
    assert refused.value.status_code == 500
    assert refused.value.error_code == "500.001.1001"
    assert refused.value.error_message == "Wrong credentials"
    assert daraja.sandbox.state.prompts == {}


async def test_safaricoms_documented_sample_request_works_verbatim(
    client: DarajaClient, daraja: RunningSandbox
) -> None:
    sample = {
        "BusinessShortCode": 174379,
        "Password": (
            "MTc0Mzc5YmZiMjc5ZjlhYTliZGJjZjE1OGU5N2RkNzFhNDY3Y2QyZTBjODkzMDU5YjEw"
            "Zjc4ZTZiNzJhZGExZWQyYzkxOTIwMTYwMjE2MTY1NjI3"
        ),
        "Timestamp": "20160216165627",
        "TransactionType": "CustomerPayBillOnline",
        "Amount": 1,
        "PartyA": 254708374149,
        "PartyB": 174379,
        "PhoneNumber": 254708374149,
        "CallBackURL": "https://mydomain.com/path",
        "AccountReference": "CompanyXLTD",
        "TransactionDesc": "Payment of X",
    }
    token = await client.access_token()
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            daraja.base_url + "/mpesa/stkpush/v1/processrequest",
            headers={"Authorization": f"Bearer {token}"},
            json=sample,
        )
    assert answer.status_code == 200
    body = answer.json()
    assert list(body) == [
        "MerchantRequestID",
        "CheckoutRequestID",
        "ResponseCode",
        "ResponseDescription",
        "CustomerMessage",
    ]
    assert body["ResponseCode"] == "0"
    await asyncio.sleep(0.2)
    prompt = daraja.sandbox.state.prompts[body["CheckoutRequestID"]]
    assert prompt.status == "completed"
    # The sandbox under test only calls back to loopback; the attempt is still on record.
    assert prompt.callbacks[0].url == "https://mydomain.com/path"
    assert prompt.callbacks[0].status_code is None


async def test_manual_prompts_wait_for_the_phone_page(
    start_sandbox: StartSandbox, receiver: CallbackReceiver
) -> None:
    async with start_sandbox(manual_prompts=True) as daraja, daraja.client() as client:
        approved = await push(client, receiver, "254712345642")
        cancelled = await push(client, receiver, "254712345643")
        scripted = await push(client, receiver, "254712345601")
        async with httpx.AsyncClient(base_url=daraja.base_url) as http:
            page = await http.get("/sandbox/phone")
            assert page.status_code == 200 and "Approve" in page.text and "<script" in page.text
            await asyncio.sleep(0.2)  # well past the scripted delay
            listed = (await http.get("/sandbox/api/stk", params={"status": "open"})).json()
            open_ids = {p["checkout_request_id"] for p in listed["prompts"]}
            assert open_ids == {approved.checkout_request_id, cancelled.checkout_request_id}
            with pytest.raises(TransactionInProgress):
                await client.stk_query(approved.checkout_request_id)
            yes = await http.post(f"/sandbox/api/stk/{approved.checkout_request_id}/approve")
            no = await http.post(f"/sandbox/api/stk/{cancelled.checkout_request_id}/cancel")
            assert yes.status_code == no.status_code == 200
            bodies = await receiver.wait_for("/stk", count=3)
            again = await http.post(f"/sandbox/api/stk/{approved.checkout_request_id}/cancel")
            assert again.status_code == 409
        outcomes = {
            b["Body"]["stkCallback"]["CheckoutRequestID"]: b["Body"]["stkCallback"]["ResultCode"]
            for b in bodies
        }
        assert outcomes == {
            approved.checkout_request_id: 0,
            cancelled.checkout_request_id: 1032,
            scripted.checkout_request_id: 1032,
        }
        assert (await client.stk_query(approved.checkout_request_id)).succeeded


async def test_an_unanswered_manual_prompt_times_out_as_unreachable(
    start_sandbox: StartSandbox, receiver: CallbackReceiver
) -> None:
    fast_timeout = replace(FAST, prompt_timeout_s=0.2)
    async with (
        start_sandbox(manual_prompts=True, timings=fast_timeout) as daraja,
        daraja.client() as client,
    ):
        await push(client, receiver, "254712345642")
        (body,) = await receiver.wait_for("/stk")
    assert body["Body"]["stkCallback"]["ResultCode"] == 1037
