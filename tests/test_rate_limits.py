"""Abuse limits: the GCRA buckets on both stores, a login storm that cannot lock the owner out,
sign-ups a carrier's shared address does not trip, and per-user limits with 429 + Retry-After."""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

import pytest
from quart.typing import TestClientProtocol

from gamehub.ratelimit import Rule, create_limiter
from gamehub.runtime import EXTENSION
from gamehub.settings import Settings
from tests.backends import Backend
from tests.helpers import PASSWORD, bearer, error_of, register

USUAL = "198.51.100.7"  # the owner's usual address (a carrier's, shared with thousands)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The shipped limits (the suite's conftest loosens them for every other test), behind a
    # proxy on the loopback address.
    defaults = Settings()
    return settings.with_overrides(
        trusted_proxies=("127.0.0.1",),
        **{
            name: getattr(defaults, name)
            for name in (
                "rate_login_account",
                "rate_login_known",
                "rate_login_address",
                "rate_register_address",
                "rate_payments_user",
                "rate_play_user",
            )
        },
    )


@pytest.fixture
def client(app: Any) -> TestClientProtocol:
    # No cookie jar: an attacker has no owner's device cookie; a test sends one by hand.
    return app.test_client(use_cookies=False)  # type: ignore[no-any-return]


def via(address: str, **headers: str) -> dict[str, Any]:
    """Request options for a client at `address` behind the trusted proxy."""
    return {
        "headers": {"X-Forwarded-For": address, **headers},
        "scope_base": {"client": ("127.0.0.1", 40000)},
    }


async def _login(client: TestClientProtocol, address: str, password: str, **extra: Any) -> Any:
    name: dict[str, str] = extra.pop("name", None) or {"username": "owner"}
    return await client.post("/login", json={**name, "password": password}, **via(address, **extra))


# --- the stores ------------------------------------------------------------------------------


def test_rules_parse() -> None:
    assert Rule.parse("10/15m") == Rule(10, 900)
    assert Rule.parse("500/h") == Rule(500, 3600)
    assert Rule.parse(" 20 / 1s ") == Rule(20, 1)
    for bad in ("10", "0/1m", "10/0m", "-1/1m", "10/1w", "1e3/1m"):
        with pytest.raises(ValueError):
            Rule.parse(bad)


async def test_buckets_on_the_configured_store(backend: Backend) -> None:
    """The same behaviour in this process's memory and in Redis (shared by instances)."""
    limiter = create_limiter(backend.redis_url)
    key = f"test:{secrets.token_hex(4)}"
    rule = Rule(3, 3)  # three at once, then one a second
    try:
        assert [await limiter.hit(key, rule) for _ in range(3)] == [None] * 3
        wait = await limiter.hit(key, rule)
        assert wait is not None and 0 < wait <= 1.0
        assert await limiter.hit(key, rule) is not None  # a refused hit counts for nothing
        assert await limiter.hit(key, rule, -1) is None  # one given back ...
        assert await limiter.hit(key, rule) is None  # ... is there again
        assert await limiter.hit(key, rule) is not None
        await asyncio.sleep(1.1)
        assert await limiter.hit(key, rule) is None  # refilled at one a second
        assert await limiter.hit(f"{key}:other", rule) is None  # keys are apart
        assert not await limiter.known(f"{key}:place")
        await limiter.remember(f"{key}:place", 0.5)
        assert await limiter.known(f"{key}:place")
        await asyncio.sleep(0.7)
        assert not await limiter.known(f"{key}:place")
    finally:
        await limiter.close()


async def test_instances_share_buckets_through_redis(backend: Backend) -> None:
    if backend.redis_url is None:
        pytest.skip("without Redis each process keeps its own buckets (tested above)")
    first, second = create_limiter(backend.redis_url), create_limiter(backend.redis_url)
    key, rule = f"test:{secrets.token_hex(4)}", Rule(2, 60)
    try:
        assert await first.hit(key, rule) is None
        assert await second.hit(key, rule) is None
        assert await first.hit(key, rule) is not None
        assert await second.hit(key, rule) is not None
        await first.remember(f"{key}:place", 60)
        assert await second.known(f"{key}:place")
    finally:
        await first.close()
        await second.close()


# --- logins ----------------------------------------------------------------------------------


async def test_a_login_storm_does_not_lock_the_owner_out(client: TestClientProtocol) -> None:
    await register(client, "owner")
    first = await _login(client, USUAL, PASSWORD)
    assert first.status_code == 200  # the owner's usual address, now remembered
    device = first.headers["Set-Cookie"].split(";")[0]  # gamehub_device=...

    storm = [await _login(client, f"10.77.{n // 200}.{n % 200}", "wrong-guess") for n in range(40)]
    statuses = [response.status_code for response in storm]
    assert statuses[:10] == [401] * 10  # the account's bucket: 10 failures from unknown places
    assert set(statuses[10:]) == {429}
    assert 1 <= int(storm[-1].headers["Retry-After"]) <= 90
    assert (await error_of(storm[-1]))["code"] == "rate_limited"

    # During the storm: from the usual address, and with the device cookie from a new one.
    assert (await _login(client, USUAL, PASSWORD)).status_code == 200
    assert (await _login(client, "203.0.113.50", PASSWORD, Cookie=device)).status_code == 200
    # A new address without the cookie shares the stormed bucket (documented).
    assert (await _login(client, "203.0.113.51", PASSWORD)).status_code == 429
    # The storm goes on; the owner still gets in, and after it too.
    assert (await _login(client, "10.78.0.1", "wrong-guess")).status_code == 429
    assert (await _login(client, USUAL, PASSWORD)).status_code == 200


async def test_every_name_of_an_account_is_one_bucket(client: TestClientProtocol) -> None:
    await register(client, "owner")  # email owner@example.com
    names = [{"username": "owner"}, {"email": "owner@example.com"}, {"email": "OWNER@example.com"}]
    statuses = [
        (await _login(client, f"10.9.0.{n}", "wrong", name=names[n % 3])).status_code
        for n in range(12)
    ]
    assert statuses == [401] * 10 + [429] * 2


async def test_logins_that_succeed_do_not_count(client: TestClientProtocol) -> None:
    await register(client, "owner")
    for n in range(15):  # more than the account's 10, each from a new address
        assert (await _login(client, f"10.8.0.{n}", PASSWORD)).status_code == 200


async def test_one_address_guessing_many_accounts_is_stopped(
    app: Any, client: TestClientProtocol
) -> None:
    runtime = app.extensions["gamehub"]
    runtime.settings = runtime.settings.with_overrides(rate_login_address=Rule(5, 60))
    statuses = [
        (await _login(client, "10.5.5.5", "x", name={"username": f"who{n}"})).status_code
        for n in range(7)
    ]
    assert statuses == [401] * 5 + [429] * 2
    # Another address (another subscriber behind the same proxy) is not affected.
    assert (await _login(client, "10.5.5.6", "x", name={"username": "who0"})).status_code == 401


# --- sign-ups --------------------------------------------------------------------------------


async def _sign_up(client: TestClientProtocol, address: str) -> Any:
    name = f"p{secrets.token_hex(5)}"
    body = {
        "username": name,
        "email": f"{name}@example.com",
        "password": PASSWORD,
        "date_of_birth": "1990-05-17",
    }
    return await client.post("/register", json=body, **via(address))


async def test_a_busy_carrier_address_can_sign_up_many(client: TestClientProtocol) -> None:
    statuses = [(await _sign_up(client, USUAL)).status_code for _ in range(60)]
    assert statuses == [201] * 60


async def test_sign_ups_from_one_address_are_bounded(app: Any, client: TestClientProtocol) -> None:
    runtime = app.extensions["gamehub"]
    runtime.settings = runtime.settings.with_overrides(rate_register_address=Rule(3, 3600))
    statuses = [(await _sign_up(client, "10.6.6.6")).status_code for _ in range(4)]
    assert statuses == [201, 201, 201, 429]
    limited = await _sign_up(client, "10.6.6.6")
    assert 1000 <= int(limited.headers["Retry-After"]) <= 1200  # one sign-up every 20 minutes
    assert (await _sign_up(client, "10.6.6.7")).status_code == 201


# --- per user --------------------------------------------------------------------------------


async def test_play_and_payments_are_limited_per_user(app: Any, client: TestClientProtocol) -> None:
    runtime = app.extensions["gamehub"]
    runtime.settings = runtime.settings.with_overrides(
        rate_play_user=Rule(3, 60), rate_payments_user=Rule(2, 60)
    )
    alice, bob = await register(client), await register(client)
    spins = [
        await client.post(
            "/games/spin-and-win/play",
            json={"bet_amount": "10"},
            headers=bearer(alice["access_token"]),
        )
        for _ in range(4)
    ]
    # Not funded: refused on the merits until the limit answers first.
    assert [spin.status_code for spin in spins] == [409, 409, 409, 429]
    assert int(spins[-1].headers["Retry-After"]) >= 1
    withdrawals = [
        await client.post(
            "/withdraw",
            json={"amount": 100, "phone": "254708374149"},
            headers=bearer(alice["access_token"]),
        )
        for _ in range(3)
    ]
    assert [w.status_code for w in withdrawals] == [409, 409, 429]
    # Another player is not affected.
    other = await client.post(
        "/games/spin-and-win/play", json={"bet_amount": "10"}, headers=bearer(bob["access_token"])
    )
    assert other.status_code == 409
    # The WebSocket's commands share the user's play limit.
    async with client.websocket("/ws", headers=bearer(bob["access_token"])) as ws:
        codes = []
        for n in range(3):
            await ws.send(json.dumps({"op": "leave", "room_id": 1, "ref": n}))
            reply = json.loads(await ws.receive())
            codes.append(reply["error"]["code"])
    assert codes[-1] == "rate_limited"
    assert "rate_limited" not in codes[:2]


async def test_operator_sign_in_guesses_are_limited(app: Any, client: TestClientProtocol) -> None:
    """Six TOTP digits must not be guessable at leisure: an address guessing one operator's
    codes meets 429 after the strict account rate's burst."""
    from tests.admin.operators import operator

    staff = await operator(client, app.extensions[EXTENSION])
    guesses = [
        await client.post(
            "/admin/login",
            json={"username": staff.username, "password": PASSWORD, "totp": "000000"},
            **via("203.0.113.9"),
        )
        for _ in range(12)
    ]
    statuses = [guess.status_code for guess in guesses]
    assert statuses[:10] == [401] * 10 and statuses[10:] == [429] * 2, statuses
    assert int(guesses[-1].headers["Retry-After"]) >= 1
