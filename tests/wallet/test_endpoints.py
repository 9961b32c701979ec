"""The wallet endpoints: shapes, validation (422 before any state), Idempotency-Key, the daily
deposit cap, transaction paging and ownership, and Daraja refusing a request."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from httpx_sse import aconnect_sse

from tests.wallet.conftest import Live, new_player
from tests.wallet.flows import fund, phone, post, settled, wallet

BAD_BODIES: list[bytes] = [
    b'{"amount": NaN, "phone": "254712345600"}',
    b'{"amount": Infinity, "phone": "254712345600"}',
    b'{"amount": -Infinity, "phone": "254712345600"}',
    b'{"amount": "1e309", "phone": "254712345600"}',
    b'{"amount": 1e309, "phone": "254712345600"}',
    b'{"amount": -5, "phone": "254712345600"}',
    b'{"amount": 0, "phone": "254712345600"}',
    b'{"amount": 10.50, "phone": "254712345600"}',
    b'{"amount": "10.50", "phone": "254712345600"}',
    b'{"amount": 10.001, "phone": "254712345600"}',
    b'{"amount": true, "phone": "254712345600"}',
    b'{"amount": null, "phone": "254712345600"}',
    b'{"amount": [100], "phone": "254712345600"}',
    b'{"amount": "abc", "phone": "254712345600"}',
    b'{"amount": 250001, "phone": "254712345600"}',
    b'{"amount": 100, "phone": "12345"}',
    b'{"amount": 100, "phone": 254712345600}',
    b'{"amount": 100, "phone": "255712345600"}',
    b'{"phone": "254712345600"}',
    b'{"amount": 100, "phone": "254712345600", "balance": 5}',
    b"[]",
]


def _code(response: httpx.Response) -> str:
    assert response.headers["content-type"].startswith("application/json"), response.text
    code: str = response.json()["error"]["code"]
    return code


async def test_wallet_needs_a_login(live: Live) -> None:
    for method, path in (("GET", "/wallet"), ("POST", "/deposit"), ("POST", "/withdraw")):
        response = await live.http.request(method, path, json={})
        assert response.status_code == 401 and _code(response) == "unauthenticated"
    assert (await live.http.get("/transactions")).status_code == 401


async def test_bad_deposits_are_422_and_change_nothing(live: Live) -> None:
    player = await new_player(live)
    await fund(live, player, 50)
    headers = {**player.headers, "Content-Type": "application/json"}
    missing_phone = b'{"amount": 100}'
    for body in [*BAD_BODIES, missing_phone]:
        response = await live.http.post("/deposit", content=body, headers=headers)
        assert response.status_code == 422, (body, response.text)
        assert _code(response) in {"validation_error", "amount_out_of_range"}
    assert (await wallet(live, player))["balance"] == "50.00"
    listed = await live.http.get("/transactions", headers=player.headers)
    assert listed.json() == {"transactions": [], "next_before": None}


async def test_bad_withdrawals_are_422_and_change_nothing(live: Live) -> None:
    player = await new_player(live)
    await fund(live, player, 300_000)
    headers = {**player.headers, "Content-Type": "application/json"}
    for body in [*BAD_BODIES, b'{"amount": 9, "phone": "254712345600"}']:
        response = await live.http.post("/withdraw", content=body, headers=headers)
        assert response.status_code == 422, (body, response.text)
    # No phone given and none on the profile.
    response = await post(live, player, "/withdraw", {"amount": 100})
    assert response.status_code == 422 and _code(response) == "phone_required"
    assert await wallet(live, player) == {
        "balance": "300000.00",
        "held": "0.00",
        "available": "300000.00",
        "currency": "KES",
    }


async def test_withdraw_to_the_profile_phone_and_insufficient_funds(live: Live) -> None:
    player = await new_player(live, phone="0712345600")
    await fund(live, player, 100)
    too_much = await post(live, player, "/withdraw", {"amount": 101})
    assert too_much.status_code == 409 and _code(too_much) == "insufficient_funds"
    response = await post(live, player, "/withdraw", {"amount": "100"})
    assert response.status_code == 202
    started = response.json()["transaction"]
    assert started["phone"] == "254712345600"
    assert (await settled(live, player, started["id"]))["status"] == "completed"
    assert (await wallet(live, player))["balance"] == "0.00"


@pytest.mark.parametrize("path", ["/deposit", "/withdraw"])
async def test_idempotency_key(live: Live, path: str) -> None:
    player = await new_player(live)
    await fund(live, player, 1000)
    body = {"amount": 100, "phone": "0712345604"}
    key = {"Idempotency-Key": f"key-{path}"}
    first = await post(live, player, path, body, **key)
    again = await post(live, player, path, {"phone": "0712345604", "amount": 100}, **key)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    other = await post(live, player, path, {**body, "amount": 200}, **key)
    assert other.status_code == 422 and _code(other) == "idempotency_key_reused"
    listed = (await live.http.get("/transactions", headers=player.headers)).json()
    assert [t["id"] for t in listed["transactions"]] == [first.json()["transaction"]["id"]]
    held = "100.00" if path == "/withdraw" else "0.00"
    assert (await wallet(live, player))["held"] == held


async def test_daily_deposit_cap(live: Live) -> None:
    player = await new_player(live)
    for amount in (250_000, 249_999):  # pending deposits count (scenario 04 never calls back)
        response = await post(live, player, "/deposit", {"amount": amount, "phone": phone("04")})
        assert response.status_code == 202
    over = await post(live, player, "/deposit", {"amount": 2, "phone": phone("04")})
    assert over.status_code == 409 and _code(over) == "daily_deposit_limit"
    assert over.json()["error"]["details"] == {
        "limit": "500000.00",
        "used": "499999.00",
        "remaining": "1.00",
    }
    assert (
        await post(live, player, "/deposit", {"amount": 1, "phone": phone("04")})
    ).status_code == 202
    # Another player has their own cap.
    other = await new_player(live)
    response = await post(live, other, "/deposit", {"amount": 250_000, "phone": phone("04")})
    assert response.status_code == 202


async def test_transactions_pages_and_ownership(live: Live) -> None:
    player = await new_player(live)
    ids = []
    for amount in range(1, 6):
        response = await post(live, player, "/deposit", {"amount": amount, "phone": phone("01")})
        ids.append(response.json()["transaction"]["id"])
    page = (await live.http.get("/transactions?limit=2", headers=player.headers)).json()
    assert [t["id"] for t in page["transactions"]] == ids[::-1][:2]
    assert page["next_before"] == ids[3]
    rest = await live.http.get(
        f"/transactions?before={page['next_before']}", headers=player.headers
    )
    assert [t["id"] for t in rest.json()["transactions"]] == ids[::-1][2:]
    assert rest.json()["next_before"] is None
    item = rest.json()["transactions"][0]
    assert set(item) == {
        "id", "type", "status", "amount", "phone", "provider_ref", "receipt",
        "failure_reason", "created_at", "updated_at", "tax_withheld", "net_amount",
    }  # fmt: skip
    # The contract's fields, and a withdrawal's tax (null on a deposit: OPERATIONS.md, Taxes).
    assert (item["tax_withheld"], item["net_amount"]) == (None, None)
    for bad in ("limit=0", "limit=101", "limit=x", "before=0", "before=-1", "other=1"):
        response = await live.http.get(f"/transactions?{bad}", headers=player.headers)
        assert response.status_code == 422, bad
    stranger = await new_player(live)
    response = await live.http.get(f"/transactions/{ids[0]}", headers=stranger.headers)
    assert response.status_code == 404 and _code(response) == "not_found"
    listed = (await live.http.get("/transactions", headers=stranger.headers)).json()
    assert listed["transactions"] == []
    assert (await live.http.get("/transactions/999999", headers=player.headers)).status_code == 404


async def test_daraja_refusal_fails_the_deposit_and_charges_nothing(live: Live) -> None:
    gateway = live.rt.gateway
    assert gateway is not None
    config = gateway.client.config
    gateway.client.config = config.with_overrides(passkey="not-the-passkey")
    try:
        player = await new_player(live)
        response = await post(live, player, "/deposit", {"amount": 100, "phone": phone("00")})
    finally:
        gateway.client.config = config
    assert response.status_code == 502 and _code(response) == "mpesa_refused"
    failed = response.json()["error"]["details"]["transaction"]
    assert failed["status"] == "failed" and "refused" in failed["failure_reason"]
    assert (await wallet(live, player))["balance"] == "0.00"


async def test_payments_reach_the_users_stream(live: Live) -> None:
    player = await new_player(live)
    ticket = (await live.http.post("/auth/stream-ticket", headers=player.headers)).json()
    seen: list[tuple[str, Any]] = []
    async with aconnect_sse(live.http, "GET", f"/events?ticket={ticket['ticket']}") as source:
        events = source.aiter_sse()
        async for event in events:
            if event.event == "snapshot":
                break
        await post(live, player, "/deposit", {"amount": 100, "phone": phone("00")})
        async for event in events:
            if not event.data:
                continue
            seen.append((event.event, event.json()))
            if event.event == "wallet" and event.json()["wallet"]["balance"] == "100.00":
                break
    statuses = [body["transaction"]["status"] for kind, body in seen if kind == "transaction"]
    assert statuses == ["pending", "completed"]


async def test_sandbox_phone_page_is_linked(live: Live) -> None:
    response = await live.http.get("/sandbox/phone")
    assert response.status_code in (301, 302, 303, 307, 308)
    assert response.headers["location"].endswith("/sandbox/daraja/sandbox/phone")
    page = await live.http.get(response.headers["location"])
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
