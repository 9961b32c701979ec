"""`gamehub serve` behind a real NGINX running the shipped deploy/nginx.conf: the app sees each
client's own address (forwarded by NGINX, never what a client writes), WebSockets upgrade with
their Origin checked, SSE passes through, /metrics stays internal, and a login storm from many
addresses meets 429s while the owner logs in from their usual address during and after it."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from httpx_sse import aconnect_sse

from tests.backends import Backend, clean_services
from tests.conftest import TEST_JWT_SECRET
from tests.helpers import PASSWORD, register_over_http
from tests.live import App, free_port
from tests.nginx import client_from, nginx_in_front_of

SECRET = "callback-secret-for-the-nginx-test"
SAFARICOM = "127.0.0.2"  # the callback allowlist's one address, as a loopback stand-in
CALLBACK = f"/payments/callbacks/{SECRET}/stk"
ACK = {"ResultCode": 0, "ResultDesc": "Accepted"}


class Deployment:
    def __init__(self, app: App, base: str) -> None:
        self.app, self.base = app, base

    def clients_seen(self) -> list[str]:
        """The client addresses of the app's access log lines, in order."""
        seen = []
        for line in (self.app.cwd / "serve.log").read_text(errors="replace").splitlines():
            if line.startswith("{"):
                entry = json.loads(line)
                if entry.get("logger") == "gamehub.access":
                    seen.append(entry.get("client"))
        return seen


@pytest.fixture
async def deployment(backend: Backend, tmp_path: Path) -> AsyncIterator[Deployment]:
    await clean_services(backend.database_url, backend.redis_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAMEHUB_")}
    env.update(
        GAMEHUB_DATABASE_URL=backend.database_url,
        GAMEHUB_DATA_DIR=str(tmp_path / "data"),
        GAMEHUB_JWT_SECRET=TEST_JWT_SECRET,
        GAMEHUB_BCRYPT_ROUNDS="4",
        GAMEHUB_LOG_JSON="true",
        GAMEHUB_TRUSTED_PROXIES="127.0.0.1",  # NGINX, as the app sees it
        GAMEHUB_MPESA_CALLBACK_SECRET=SECRET,
        GAMEHUB_MPESA_CALLBACK_ALLOWLIST=SAFARICOM,
    )
    if backend.redis_url is not None:
        env["GAMEHUB_REDIS_URL"] = backend.redis_url
    app = App(env, tmp_path, free_port())
    await app.start()
    try:
        async with nginx_in_front_of([f"127.0.0.1:{app.port}"]) as base:
            yield Deployment(app, base)
    finally:
        app.stop()


async def test_the_app_sees_the_client_nginx_saw(deployment: Deployment) -> None:
    base, direct = deployment.base, deployment.app.base

    async def callback(address: str, to: str, forged: str | None = None) -> int:
        headers = {} if forged is None else {"X-Forwarded-For": forged}
        async with client_from(address, to) as http:
            response = await http.post(CALLBACK, json={}, headers=headers)
            if response.status_code == 200:
                assert response.json() == ACK
            return response.status_code

    # Through NGINX: the allowlist judges the real client, whatever the client writes.
    assert await callback(SAFARICOM, base) == 200
    assert await callback("127.0.0.3", base) == 403
    assert await callback("127.0.0.3", base, forged=SAFARICOM) == 403
    # Straight to the app from a peer that is not a trusted proxy: its header is ignored.
    assert await callback("127.0.0.3", direct, forged=SAFARICOM) == 403
    assert await callback(SAFARICOM, direct) == 200

    # The access log names the client NGINX saw.
    async with client_from("127.0.0.4", base) as http:
        assert (
            await http.get("/healthz", headers={"X-Forwarded-For": "10.6.6.6"})
        ).status_code == 200
    await asyncio.sleep(0.2)
    assert deployment.clients_seen()[-1] == "127.0.0.4"

    # /metrics: the local host only.
    async with client_from("127.0.0.1", base) as http:
        assert (await http.get("/metrics")).status_code == 200
    async with client_from("127.0.0.5", base) as http:
        assert (await http.get("/metrics")).status_code == 403


async def _upgrade(port: int, token: str, origin: str | None, host: str) -> int:
    """The status NGINX (and the app behind it) answers a WebSocket upgrade with."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(secrets.token_bytes(16)).decode()
    lines = [
        "GET /ws HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        f"Authorization: Bearer {token}",
    ]
    if origin is not None:
        lines.append(f"Origin: {origin}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    try:
        status_line = await asyncio.wait_for(reader.readline(), 10)
    finally:
        writer.close()
    return int(status_line.split()[1])


async def test_streams_and_sockets_pass_through(deployment: Deployment) -> None:
    base = deployment.base
    port = int(base.rsplit(":", 1)[1])
    async with client_from("127.0.0.6", base) as http:
        token = (await register_over_http(http, "streamer"))["access_token"]
        # SSE: the snapshot arrives through NGINX while the stream stays open.
        headers = {"Authorization": f"Bearer {token}"}
        async with aconnect_sse(http, "GET", "/events", headers=headers) as source:
            assert source.response.status_code == 200
            async with asyncio.timeout(10):
                async for event in source.aiter_sse():
                    if event.data:  # after the leading `retry:`
                        assert event.event == "snapshot"
                        break
    host = f"127.0.0.1:{port}"
    assert await _upgrade(port, token, f"http://{host}", host) == 101  # the page's own origin
    assert await _upgrade(port, token, None, host) == 101  # not a browser
    assert await _upgrade(port, token, "https://evil.example", host) == 403


async def test_a_login_storm_through_nginx_does_not_lock_the_owner_out(
    deployment: Deployment,
) -> None:
    """Forty addresses guess the owner's password through NGINX (which forwards each one's
    address); the owner, at their usual address, logs in during the storm and after it."""
    base = deployment.base
    usual = "127.0.0.7"
    async with client_from(usual, base) as owner:
        await register_over_http(owner, "target")
        owner.cookies.clear()  # the usual address alone, no device cookie
        login = {"username": "target", "password": PASSWORD}
        assert (await owner.post("/login", json=login)).status_code == 200
        owner.cookies.clear()

        async def guess(n: int) -> int:
            async with client_from(f"127.0.{1 + n // 200}.{10 + n % 200}", base) as attacker:
                wrong = {"username": "target", "password": f"guess-{n}"}
                return (await attacker.post("/login", json=wrong)).status_code

        async def owner_logs_in() -> int:
            await asyncio.sleep(0.05)
            status = (await owner.post("/login", json=login)).status_code
            owner.cookies.clear()
            return status

        *storm, during = await asyncio.gather(*(guess(n) for n in range(40)), owner_logs_in())
        assert sorted(storm).count(401) == 10  # the account's bucket for unknown places
        assert sorted(storm).count(429) == 30
        assert during == 200
        assert (await guess(99)) == 429  # the storm goes on ...
        assert (await owner.post("/login", json=login)).status_code == 200  # ... and after it
