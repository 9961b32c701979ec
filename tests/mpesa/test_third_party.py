"""Fidelity beyond our own code: a third-party Daraja client against our sandbox (mpesakit), and
our client against a third-party Daraja test double (daraja-mock). Test-only dependencies."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gamehub.mpesa.client import DarajaClient, DarajaConfig
from tests.mpesa.conftest import RunningSandbox
from tests.mpesa.servers import CallbackReceiver

mpesakit = pytest.importorskip("mpesakit")
daraja_mock = pytest.importorskip("daraja_mock")


def mpesakit_client(base_url: str, key: str, secret: str) -> Any:
    """mpesakit knows only Safaricom's hosts; point its HTTP client at the sandbox instead."""
    client = mpesakit.AsyncMpesaClient(
        consumer_key=key, consumer_secret=secret, environment="sandbox"
    )
    client.http_client.base_url = base_url
    client.http_client._client = httpx.AsyncClient(base_url=base_url)
    return client


async def test_mpesakit_drives_the_sandbox_oauth_and_stk_push(
    daraja: RunningSandbox, receiver: CallbackReceiver
) -> None:
    client = mpesakit_client(daraja.base_url, "sandbox-key", "sandbox-secret")
    try:
        token = await client.token_manager.get_token()
        assert token in daraja.sandbox.state.tokens
        answer = await client.stk_push(
            business_short_code=174379,
            passkey="bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919",
            transaction_type="CustomerPayBillOnline",
            amount=10,
            party_a="254712345600",
            party_b="174379",
            phone_number="254712345600",
            callback_url=receiver.url("/stk"),
            account_reference="GameHub",
            transaction_desc="Deposit",
        )
        assert str(answer.ResponseCode) == "0"
        (body,) = await receiver.wait_for("/stk")
        parsed = client.process_stk_callback(body)
        assert parsed.Body.stkCallback.CheckoutRequestID == answer.CheckoutRequestID
        assert int(parsed.Body.stkCallback.ResultCode) == 0
    finally:
        await client.http_client._client.aclose()


@pytest.fixture
def daraja_mock_url() -> Iterator[str]:
    from werkzeug.serving import make_server

    mock = daraja_mock.DarajaMock(consumer_key="sandbox-key", consumer_secret="sandbox-secret")
    server = make_server("127.0.0.1", 0, mock.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


async def test_our_client_runs_oauth_and_stk_push_against_daraja_mock(
    daraja_mock_url: str,
) -> None:
    config = DarajaConfig(
        base_url=daraja_mock_url, consumer_key="sandbox-key", consumer_secret="sandbox-secret"
    )
    async with DarajaClient(config) as client:
        token = await client.access_token()
        assert token
        accepted = await client.stk_push(
            phone="254712345600",
            amount=10,
            callback_url="http://127.0.0.1:9/stk",
            account_reference="GameHub",
            description="Deposit",
        )
        assert accepted.checkout_request_id.startswith("ws_CO_")
        answer = await client.stk_query(accepted.checkout_request_id)
        assert answer.succeeded
        await asyncio.sleep(0)
