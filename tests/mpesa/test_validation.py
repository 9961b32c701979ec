"""Daraja's field validation on the sandbox, answered with Daraja's error body."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gamehub.mpesa.client import DarajaClient
from gamehub.mpesa.errors import DarajaError
from gamehub.mpesa.security import daraja_timestamp, stk_password
from tests.mpesa.conftest import RunningSandbox

PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"


def good_stk() -> dict[str, Any]:
    stamp = daraja_timestamp()
    return {
        "BusinessShortCode": "174379",
        "Password": stk_password("174379", PASSKEY, stamp),
        "Timestamp": stamp,
        "TransactionType": "CustomerPayBillOnline",
        "Amount": "10",
        "PartyA": "254712345600",
        "PartyB": "174379",
        "PhoneNumber": "254712345600",
        "CallBackURL": "http://127.0.0.1:9/stk",
        "AccountReference": "GameHub",
        "TransactionDesc": "Deposit",
    }


async def post(daraja: RunningSandbox, client: DarajaClient, path: str, body: Any):
    token = await client.access_token()
    async with httpx.AsyncClient() as http:
        return await http.post(
            daraja.base_url + path, headers={"Authorization": f"Bearer {token}"}, json=body
        )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("Amount", 0, "Invalid Amount"),
        ("Amount", "1.5", "Invalid Amount"),
        ("Amount", "ten", "Invalid Amount"),
        ("PhoneNumber", "0712345678", "Invalid PhoneNumber"),
        ("PartyA", "2547", "Invalid PartyA"),
        ("CallBackURL", "not a url", "Invalid CallBackURL"),
        ("TransactionType", "PayMe", "Invalid TransactionType"),
        ("Timestamp", "2024", "Invalid Timestamp"),
        ("BusinessShortCode", "999999", "Invalid BusinessShortCode"),
        ("AccountReference", None, "Invalid AccountReference"),
    ],
)
async def test_stk_push_fields(
    daraja: RunningSandbox, client: DarajaClient, field: str, value: Any, message: str
) -> None:
    body = good_stk()
    if value is None:
        del body[field]
    else:
        body[field] = value
    answer = await post(daraja, client, "/mpesa/stkpush/v1/processrequest", body)
    assert answer.status_code == 400
    error = answer.json()
    assert set(error) == {"requestId", "errorCode", "errorMessage"}
    assert error["errorCode"] == "400.002.02"
    assert error["errorMessage"] == f"Bad Request - {message}"
    assert daraja.sandbox.state.prompts == {}


async def test_a_good_body_with_numbers_as_strings_is_accepted(
    daraja: RunningSandbox, client: DarajaClient
) -> None:
    answer = await post(daraja, client, "/mpesa/stkpush/v1/processrequest", good_stk())
    assert answer.status_code == 200 and answer.json()["ResponseCode"] == "0"


async def test_b2c_fields(daraja: RunningSandbox, client: DarajaClient) -> None:
    body = {
        "OriginatorConversationID": "gh-1",
        "InitiatorName": "testapi",
        "SecurityCredential": client.security_credential(),
        "CommandID": "BusinessPayment",
        "Amount": 10,
        "PartyA": 600000,
        "PartyB": 254712345600,
        "Remarks": "Withdrawal",
        "QueueTimeOutURL": "http://127.0.0.1:9/timeout",
        "ResultURL": "ftp://127.0.0.1/result",
        "Occassion": "",
    }
    answer = await post(daraja, client, "/mpesa/b2c/v3/paymentrequest", body)
    assert answer.status_code == 400
    assert answer.json()["errorMessage"] == "Bad Request - Invalid ResultURL"
    del body["OriginatorConversationID"]
    answer = await post(daraja, client, "/mpesa/b2c/v3/paymentrequest", body)
    assert answer.json()["errorMessage"] == "Bad Request - Invalid OriginatorConversationID"
    assert daraja.sandbox.state.payments == {}


async def test_malformed_json_and_missing_bearer(
    daraja: RunningSandbox, client: DarajaClient
) -> None:
    token = await client.access_token()
    async with httpx.AsyncClient(base_url=daraja.base_url) as http:
        for content in (b"{nope", b"\xff\xfe{}", b"[" * 10_000 + b"]" * 10_000):
            broken = await http.post(
                "/mpesa/stkpush/v1/processrequest",
                headers={"Authorization": f"Bearer {token}"},
                content=content,
            )
            assert broken.status_code == 400, content[:10]
            assert broken.json()["errorCode"] == "400.002.02"
        anonymous = await http.post("/mpesa/stkpush/v1/processrequest", json=good_stk())
    assert anonymous.status_code == 400 and anonymous.json()["errorCode"] == "404.001.04"


async def test_unknown_checkout_request_id(daraja: RunningSandbox, client: DarajaClient) -> None:
    with pytest.raises(DarajaError) as unknown:
        await client.stk_query("ws_CO_nope")
    assert unknown.value.error_code == "400.002.02"
    assert unknown.value.error_message == "Bad Request - Invalid CheckoutRequestID"


async def test_client_surfaces_daraja_errors_typed(
    daraja: RunningSandbox, client: DarajaClient
) -> None:
    with pytest.raises(DarajaError) as refused:
        await client.stk_push(
            phone="0712345600",
            amount=5,
            callback_url="mailto:someone",
            account_reference="GameHub",
            description="Deposit",
        )
    assert refused.value.status_code == 400
    assert refused.value.error_message == "Bad Request - Invalid CallBackURL"
    assert refused.value.request_id
