"""The sandbox mounted in-process under a prefix of a host app, as the main app will mount it."""

from __future__ import annotations

import httpx
from quart import Quart

from gamehub.jsonio import ApiRequest, ExactJSONProvider
from gamehub.mpesa.client import DarajaClient, DarajaConfig
from gamehub.mpesa.sandbox import DarajaSandbox, SandboxConfig, SandboxKeys, sandbox_blueprint
from tests.mpesa.conftest import FAST, LOOPBACK
from tests.mpesa.servers import CallbackReceiver, serving


async def test_mounted_under_a_prefix(
    sandbox_keys: SandboxKeys, receiver: CallbackReceiver
) -> None:
    host = Quart("host")
    # The host's own JSON and request classes must not change what the sandbox says.
    host.json_provider_class = ExactJSONProvider
    host.json = ExactJSONProvider(host)
    host.request_class = ApiRequest
    sandbox = DarajaSandbox(SandboxConfig(timings=FAST, callback_hosts=LOOPBACK), sandbox_keys)
    host.register_blueprint(sandbox_blueprint(sandbox), url_prefix="/sandbox/daraja")
    async with serving(host) as base_url:
        config = DarajaConfig(
            base_url=f"{base_url}/sandbox/daraja",
            consumer_key="sandbox-key",
            consumer_secret="sandbox-secret",
            certificate=sandbox.keys.certificate_pem,
        )
        async with DarajaClient(config) as client:
            accepted = await client.stk_push(
                phone="254712345600",
                amount=10,
                callback_url=receiver.url("/stk"),
                account_reference="GameHub",
                description="Deposit",
            )
            (body,) = await receiver.wait_for("/stk")
            assert body["Body"]["stkCallback"]["CheckoutRequestID"] == accepted.checkout_request_id
        async with httpx.AsyncClient(base_url=f"{base_url}/sandbox/daraja") as http:
            page = await http.get("/sandbox/phone")
            listed = await http.get("/sandbox/api/stk")
            bad = await http.post("/mpesa/stkpush/v1/processrequest", content=b"{")
    assert page.status_code == 200
    assert listed.json()["prompts"][0]["checkout_request_id"] == accepted.checkout_request_id
    assert bad.json()["errorCode"] == "404.001.04"
