"""The client's address behind proxies: X-Forwarded-For is believed only from a trusted peer,
walked from the right past trusted proxies; the callback allowlist and the logs use it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from quart.typing import TestClientProtocol

from gamehub.settings import Settings, SettingsError, load_settings
from tests.test_settings import SAFE_PRODUCTION

SAFARICOM = "196.201.214.200"
CALLBACK = "/payments/callbacks/test-callback-secret/stk"
ACK = {"ResultCode": 0, "ResultDesc": "Accepted"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_overrides(
        trusted_proxies=("127.0.0.1", "10.0.0.0/8"), mpesa_callback_allowlist=(SAFARICOM,)
    )


async def _callback(client: TestClientProtocol, peer: str, forwarded: str | None) -> Any:
    headers = {} if forwarded is None else {"X-Forwarded-For": forwarded}
    return await client.post(
        CALLBACK, json={}, headers=headers, scope_base={"client": (peer, 40000)}
    )


@pytest.mark.parametrize(
    ("peer", "forwarded", "status"),
    [
        ("127.0.0.1", SAFARICOM, 200),  # NGINX on the same machine passes Safaricom on
        ("10.1.2.3", f"{SAFARICOM}, 10.0.0.7", 200),  # through two trusted proxies
        ("127.0.0.1", f"{SAFARICOM}, 203.0.113.9", 403),  # a client wrote Safaricom's address
        ("203.0.113.9", SAFARICOM, 403),  # an untrusted peer's header is ignored
        (SAFARICOM, None, 200),  # straight from Safaricom, no proxy
        ("127.0.0.1", None, 403),  # the proxy itself is not Safaricom
    ],
)
async def test_the_callback_allowlist_sees_the_resolved_address(
    client: TestClientProtocol, peer: str, forwarded: str | None, status: int
) -> None:
    response = await _callback(client, peer, forwarded)
    assert response.status_code == status
    if status == 200:
        assert await response.get_json() == ACK


async def test_the_access_log_names_the_resolved_client(
    client: TestClientProtocol, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="gamehub.access"):
        await client.get(
            "/healthz",
            headers={"X-Forwarded-For": "198.51.100.4"},
            scope_base={"client": ("127.0.0.1", 40000)},
        )
        await client.get(
            "/healthz",
            headers={"X-Forwarded-For": "198.51.100.4"},
            scope_base={"client": ("203.0.113.9", 40000)},
        )
    clients = [getattr(record, "ctx_client", None) for record in caplog.records]
    assert clients[-2:] == ["198.51.100.4", "203.0.113.9"]


def test_trusted_proxies_are_read_and_checked(tmp_path: Path) -> None:
    none = tmp_path / "none"
    assert load_settings({}, dotenv_path=none).trusted_proxies == ()
    read = load_settings({"GAMEHUB_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8,::1"}, none)
    assert read.trusted_proxies == ("127.0.0.1", "10.0.0.0/8", "::1")
    with pytest.raises(SettingsError, match="TRUSTED_PROXIES takes addresses or CIDRs"):
        load_settings({"GAMEHUB_TRUSTED_PROXIES": "nginx.internal"}, none)
    # Trusting every address lets any client name its own: refused in production only.
    assert load_settings({"GAMEHUB_TRUSTED_PROXIES": "0.0.0.0/0"}, none).trusted_proxies
    for everyone in ("0.0.0.0/0", "10.0.0.1,::/0"):
        with pytest.raises(SettingsError, match="trusts every address"):
            load_settings({**SAFE_PRODUCTION, "GAMEHUB_TRUSTED_PROXIES": everyone}, none)
