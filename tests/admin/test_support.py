"""Player support (gamehub/admin/support.py, suspensions.py): search, a player's page, and
suspension with a reason: every login ends at once and login answers 403 account_suspended."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from quart import Quart
from sqlalchemy import select

from gamehub.models import AuditEntry
from gamehub.runtime import EXTENSION, Runtime
from tests.admin.operators import operator
from tests.funding import fund
from tests.helpers import PASSWORD, bearer, error_of, register


def _runtime(app: Quart) -> Runtime:
    runtime: Runtime = app.extensions[EXTENSION]
    return runtime


async def _login(client: Any, username: str) -> Any:
    return await client.post("/login", json={"username": username, "password": PASSWORD})


async def test_search_by_username_email_or_phone_fragment(app: Quart) -> None:
    runtime = _runtime(app)
    client = app.test_client()
    staff = await operator(client, runtime)
    wanjiku = await register(client, "wanjiku_k", phone="0712345678")
    await register(client, "otieno_o", email="otieno@mail.example.com")
    await register(client, "kamau_x")
    await register(client, "kamauxx")

    async def found(query: str) -> list[str]:
        response = await client.get(
            "/admin/users", query_string={"query": query}, headers=staff.headers
        )
        assert response.status_code == 200, await response.get_data(as_text=True)
        return [user["username"] for user in (await response.get_json())["users"]]

    assert await found("WANJ") == ["wanjiku_k"]
    assert await found("mail.example") == ["otieno_o"]
    assert await found("0712345") == ["wanjiku_k"]  # stored as 254712345678
    assert await found("254712") == ["wanjiku_k"]
    assert await found("+254 712") == ["wanjiku_k"]
    assert await found("k7123") == []  # letters and digits: a name, not a phone
    assert await found("u_x") == ["kamau_x"]  # _ is a character, not a wildcard
    assert await found("zzz") == []
    user = (
        await (await client.get("/admin/users?query=wanjiku", headers=staff.headers)).get_json()
    )["users"][0]
    assert user == {
        "id": wanjiku["user"]["id"],
        "username": "wanjiku_k",
        "email": "wanjiku_k@example.com",
        "phone": "254712345678",
        "date_of_birth": "1990-05-17",
        "created_at": user["created_at"],
        "suspended": False,
        "suspension": None,
    }
    missing = await client.get("/admin/users", headers=staff.headers)
    assert missing.status_code == 422


async def test_a_players_page(app: Quart) -> None:
    runtime = _runtime(app)
    client = app.test_client()
    staff = await operator(client, runtime)
    player = await register(client)
    user_id = player["user"]["id"]
    await fund(runtime, user_id, 150_000)
    await _login(client, player["user"]["username"])  # a second open login
    limits = await client.put(
        "/responsible-play/deposit-limits",
        json={"day": "500"},
        headers=bearer(player["access_token"]),
    )
    assert limits.status_code == 200, await limits.get_data(as_text=True)

    response = await client.get(f"/admin/users/{user_id}", headers=staff.headers)
    assert response.status_code == 200, await response.get_data(as_text=True)
    page = await response.get_json()
    assert page["username"] == player["user"]["username"]
    assert page["wallet"] == {
        "balance": "1500.00",
        "held": "0.00",
        "available": "1500.00",
        "currency": "KES",
    }
    assert page["transactions"] == []
    assert len(page["open_logins"]) == 2
    assert page["pause"] == {"paused": False, "pause_kind": None, "paused_until": None}
    assert page["deposit_limits"]["day"]["limit"] == "500.00"
    assert page["suspended"] is False
    assert (await client.get("/admin/users/999999", headers=staff.headers)).status_code == 404


async def test_a_suspension_ends_every_login_and_refuses_new_ones(app: Quart) -> None:
    runtime = _runtime(app)
    client = app.test_client()
    staff = await operator(client, runtime)
    player = await register(client)
    name, user_id = player["user"]["username"], player["user"]["id"]
    second = await (await _login(client, name)).get_json()

    async with client.websocket("/ws", headers=bearer(second["access_token"])) as ws:
        await ws.send(json.dumps({"op": "unsubscribe", "room_id": 1, "ref": "u"}))
        assert json.loads(await ws.receive())["ok"] is True
        suspended = await client.post(
            f"/admin/users/{user_id}/suspend",
            json={"reason": "chargeback fraud, ticket 4411"},
            headers=staff.headers,
        )
        assert suspended.status_code == 200, await suspended.get_data(as_text=True)
        body = (await suspended.get_json())["user"]
        assert body["suspended"] is True
        assert body["suspension"]["reason"] == "chargeback fraud, ticket 4411"
        assert body["suspension"]["operator_id"] == staff.user_id
        # The socket opened before is told its login ended, and closes.
        async with asyncio.timeout(5):
            told = json.loads(await ws.receive())
        assert told["op"] == "error" and told["error"]["code"] == "session_revoked"

    for login in (player, second):
        gone = await client.get("/profile", headers=bearer(login["access_token"]))
        assert gone.status_code == 401
        assert (await error_of(gone))["code"] == "session_revoked"
        refreshed = await client.post(
            "/auth/refresh", json={"refresh_token": login["refresh_token"]}
        )
        assert refreshed.status_code == 401
    ticket = await client.post("/auth/stream-ticket", headers=bearer(second["access_token"]))
    assert ticket.status_code == 401
    # No new stream either (an open one is closed by the mechanism that closes a logged-out
    # login's streams; see docs/OPERATIONS.md).
    stream = await client.get("/events", headers=bearer(second["access_token"]))
    assert stream.status_code == 401
    assert (await error_of(stream))["code"] == "session_revoked"

    refused = await _login(client, name)
    assert refused.status_code == 403
    assert (await error_of(refused))["code"] == "account_suspended"
    # Only the right password learns of the suspension.
    wrong = await client.post("/login", json={"username": name, "password": "wrong password"})
    assert wrong.status_code == 401
    assert (await error_of(wrong))["code"] == "invalid_credentials"

    page = await (await client.get(f"/admin/users/{user_id}", headers=staff.headers)).get_json()
    assert page["open_logins"] == [] and page["suspended"] is True

    again = await client.post(
        f"/admin/users/{user_id}/suspend", json={"reason": "twice"}, headers=staff.headers
    )
    assert again.status_code == 409
    assert (await error_of(again))["code"] == "already_suspended"

    reinstated = await client.post(
        f"/admin/users/{user_id}/reinstate",
        json={"reason": "bank confirmed the payment"},
        headers=staff.headers,
    )
    assert reinstated.status_code == 200, await reinstated.get_data(as_text=True)
    assert (await reinstated.get_json())["user"]["suspended"] is False
    assert (await _login(client, name)).status_code == 200
    # The logins the suspension ended stay ended.
    still_gone = await client.get("/profile", headers=bearer(second["access_token"]))
    assert still_gone.status_code == 401
    not_suspended = await client.post(
        f"/admin/users/{user_id}/reinstate", json={"reason": "again"}, headers=staff.headers
    )
    assert not_suspended.status_code == 409
    assert (await error_of(not_suspended))["code"] == "not_suspended"

    async with runtime.sessions() as session:
        entries = (
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.subject == f"user:{user_id}")
                .order_by(AuditEntry.id)
            )
        ).all()
    assert [(e.action, e.details["reason"], e.actor) for e in entries] == [
        ("player.suspended", "chargeback fraud, ticket 4411", f"operator:{staff.user_id}"),
        ("player.reinstated", "bank confirmed the payment", f"operator:{staff.user_id}"),
    ]
    assert entries[0].address is not None


async def test_a_login_racing_a_suspension_does_not_outlive_it(app: Quart) -> None:
    runtime = _runtime(app)
    client = app.test_client()
    staff = await operator(client, runtime)
    player = await register(client)
    name, user_id = player["user"]["username"], player["user"]["id"]
    logins, suspended = await asyncio.gather(
        asyncio.gather(*(_login(client, name) for _ in range(5))),
        client.post(
            f"/admin/users/{user_id}/suspend", json={"reason": "race"}, headers=staff.headers
        ),
    )
    assert suspended.status_code == 200
    for response in logins:
        assert response.status_code in (200, 403)
        if response.status_code == 200:
            token = (await response.get_json())["access_token"]
            assert (await client.get("/profile", headers=bearer(token))).status_code == 401


async def test_suspend_and_reinstate_refusals(app: Quart) -> None:
    runtime = _runtime(app)
    client = app.test_client()
    staff = await operator(client, runtime)
    player = await register(client)
    user_id = player["user"]["id"]
    for body in ({}, {"reason": ""}, {"reason": "   "}, {"reason": 5}, {"reason": "x", "y": 1}):
        for action in ("suspend", "reinstate"):
            refused = await client.post(
                f"/admin/users/{user_id}/{action}", json=body, headers=staff.headers
            )
            assert refused.status_code == 422, (action, body)
    for action in ("suspend", "reinstate"):
        unknown = await client.post(
            f"/admin/users/999999/{action}", json={"reason": "r"}, headers=staff.headers
        )
        assert unknown.status_code == 404
        by_player = await client.post(
            f"/admin/users/{user_id}/{action}",
            json={"reason": "r"},
            headers=bearer(player["access_token"]),
        )
        assert by_player.status_code == 403
        assert (await error_of(by_player))["code"] == "operator_token_required"
    # A suspended operator loses /admin at once too.
    other = await operator(client, runtime)
    done = await client.post(
        f"/admin/users/{other.user_id}/suspend", json={"reason": "left"}, headers=staff.headers
    )
    assert done.status_code == 200
    gone = await client.get("/admin/users?query=a", headers=other.headers)
    assert gone.status_code == 401
