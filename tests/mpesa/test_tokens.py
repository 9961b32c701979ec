"""OAuth: tokens cached, expiring, renewed once on "Invalid Access Token"; bad credentials."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from gamehub.mpesa.client import DarajaClient
from gamehub.mpesa.errors import DarajaAuthenticationError, DarajaUnavailable
from tests.mpesa.conftest import RunningSandbox, StartSandbox

SAMPLE_PHONE = "254712345600"


async def stk(client: DarajaClient) -> str:
    accepted = await client.stk_push(
        phone=SAMPLE_PHONE,
        amount=1,
        callback_url="http://127.0.0.1:9/stk",
        account_reference="GameHub",
        description="Deposit",
    )
    return accepted.checkout_request_id


async def test_the_token_is_cached(daraja: RunningSandbox, client: DarajaClient) -> None:
    first = await client.access_token()
    await stk(client)
    await stk(client)
    assert await client.access_token() == first
    assert list(daraja.sandbox.state.tokens) == [first]


async def test_tokens_expire_and_the_client_renews_before_expiry(
    start_sandbox: StartSandbox,
) -> None:
    async with start_sandbox(token_ttl_s=1) as daraja, daraja.client() as client:
        old = await client.access_token()
        async with httpx.AsyncClient() as http:
            fresh = await http.get(
                daraja.base_url + "/oauth/v1/generate",
                params={"grant_type": "client_credentials"},
                auth=("sandbox-key", "sandbox-secret"),
            )
            assert fresh.json()["expires_in"] == "1"
            await asyncio.sleep(1.05)
            refused = await http.post(
                daraja.base_url + "/mpesa/stkpush/v1/processrequest",
                headers={"Authorization": f"Bearer {old}"},
                json={},
            )
        assert refused.status_code == 401
        body = refused.json()
        assert set(body) == {"requestId", "errorCode", "errorMessage"}
        assert (body["errorCode"], body["errorMessage"]) == ("404.001.03", "Invalid Access Token")
        await stk(client)
        assert await client.access_token() != old


async def test_an_invalid_token_is_renewed_once_and_the_call_retried(
    daraja: RunningSandbox, client: DarajaClient
) -> None:
    old = await client.access_token()
    async with httpx.AsyncClient() as http:
        revoked = await http.post(daraja.base_url + "/sandbox/api/tokens/revoke")
    assert revoked.json() == {"revoked": 1}
    checkout_request_id = await stk(client)  # no error surfaces
    assert checkout_request_id in daraja.sandbox.state.prompts
    assert len(daraja.sandbox.state.prompts) == 1  # one prompt: the refused call never counted
    new = await client.access_token()
    assert new != old and list(daraja.sandbox.state.tokens) == [new]


async def test_wrong_consumer_secret_is_refused(daraja: RunningSandbox) -> None:
    async with daraja.client(consumer_secret="wrong") as client:
        with pytest.raises(DarajaAuthenticationError) as refused:
            await client.access_token()
    assert refused.value.error_code == "400.008.01"
    assert refused.value.error_message == "Invalid Authentication passed"
    assert refused.value.request_id


async def test_wrong_grant_type_is_refused(daraja: RunningSandbox) -> None:
    async with httpx.AsyncClient() as http:
        answer = await http.get(
            daraja.base_url + "/oauth/v1/generate",
            params={"grant_type": "password"},
            auth=("sandbox-key", "sandbox-secret"),
        )
    assert answer.status_code == 400 and answer.json()["errorCode"] == "400.008.02"


async def test_an_unreachable_daraja_is_retried_then_reported(daraja: RunningSandbox) -> None:
    async with daraja.client(base_url="http://127.0.0.1:9", max_attempts=2) as client:
        with pytest.raises(DarajaUnavailable) as down:
            await client.access_token()
    assert down.value.may_have_arrived is False
