"""Secrets never reach a log at any level: with every logger at DEBUG, a whole round trip (sign
up, refresh, a stream ticket, a deposit and a withdrawal through the built-in sandbox, which
calls back over HTTP at the secret path, logout) logs neither the callback secret nor any token,
ticket or M-Pesa credential, in messages or tracebacks."""

from __future__ import annotations

import logging

import pytest

from gamehub import observability
from tests.wallet.conftest import Live
from tests.wallet.flows import phone, settled


async def test_a_deposit_and_withdrawal_log_no_secret(
    live: Live, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = live.rt.settings
    http = live.http
    signup = await http.post(
        "/register",
        json={
            "username": "quietplayer",
            "email": "quiet@example.com",
            "password": "correct horse battery",
            "date_of_birth": "1990-01-01",
        },
    )
    assert signup.status_code == 201, signup.text
    tokens = signup.json()
    refreshed = (
        await http.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    ).json()
    headers = {"Authorization": f"Bearer {refreshed['access_token']}"}
    ticket = (await http.post("/auth/stream-ticket", headers=headers)).json()["ticket"]
    # A wrong ticket and a token in a query string (which the API ignores) are not logged either.
    await http.get(f"/events?ticket={ticket}x")
    await http.get(f"/wallet?access_token={refreshed['access_token']}")

    deposit = await http.post(
        "/deposit", json={"amount": 500, "phone": phone("00")}, headers=headers
    )
    assert deposit.status_code == 202, deposit.text
    player = type("P", (), {"headers": headers})()
    assert (await settled(live, player, deposit.json()["transaction"]["id"]))["status"] == (
        "completed"
    )
    withdrawal = await http.post(
        "/withdraw", json={"amount": 100, "phone": phone("00")}, headers=headers
    )
    assert withdrawal.status_code == 202, withdrawal.text
    assert (await settled(live, player, withdrawal.json()["transaction"]["id"]))["status"] == (
        "completed"
    )
    assert (await http.post("/auth/logout", headers=headers)).status_code == 204

    secrets = {
        "callback secret": settings.mpesa_callback_secret,
        "jwt secret": settings.jwt_secret,
        "consumer secret": settings.mpesa_consumer_secret,
        "passkey": settings.mpesa_passkey,
        "initiator password": settings.mpesa_initiator_password,
        "access token": tokens["access_token"],
        "refresh token": tokens["refresh_token"],
        "refreshed access token": refreshed["access_token"],
        "refreshed refresh token": refreshed["refresh_token"],
        "ticket": ticket,
    }
    secrets.update(
        (f"Daraja token {n}", token) for n, token in enumerate(live.sandbox.state.tokens)
    )
    logged = "\n".join(
        f"{record.name} {record.getMessage()} {record.exc_text or ''}" for record in caplog.records
    )
    assert "HTTP Request" in logged  # the HTTP client's lines were captured, and checked
    leaks = [name for name, secret in secrets.items() if secret and secret in logged]
    assert leaks == [], [
        line for line in logged.splitlines() if any(secrets[n] in line for n in leaks)
    ][:5]


def test_urls_in_the_url_loggers_lines_lose_their_secrets(caplog: pytest.LogCaptureFixture) -> None:
    """The sandbox's own line for a callback it could not deliver, and the HTTP client's."""
    observability.redact_url_loggers()
    caplog.set_level(logging.DEBUG)
    url = "http://127.0.0.1:9/payments/callbacks/s3cr3t-path/b2c/result?ticket=t1ck3t#frag"
    for name in observability.URL_LOGGERS:
        logging.getLogger(name).debug("callback to %s failed: %s", url, f"ConnectError ({url})")
    assert "s3cr3t-path" not in caplog.text and "t1ck3t" not in caplog.text
    assert caplog.text.count("http://127.0.0.1:9/payments/callbacks/***/b2c/result") == 4
