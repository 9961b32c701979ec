"""Every auth path of the contract: register, login, refresh rotation and reuse, logout, tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import jwt
import pytest
from quart.typing import TestClientProtocol

from gamehub.db import utcnow
from gamehub.settings import Settings
from tests.helpers import PASSWORD, bearer, error_of, register

NO_KEY: Any = None  # the unsigned "none" algorithm takes no key


async def test_register_returns_user_and_tokens(client: TestClientProtocol) -> None:
    data = await register(client, "alice", phone="0712345678")
    assert data["token_type"] == "Bearer"
    assert data["expires_in"] == 900
    user = data["user"]
    assert user["username"] == "alice"
    assert user["email"] == "alice@example.com"
    assert user["phone"] == "254712345678"
    assert user["balance"] == "0.00" and user["held"] == "0.00"
    assert user["date_of_birth"] == "1990-05-17"
    assert user["created_at"].endswith("Z")
    seed = user["client_seed"]
    assert 1 <= len(seed) <= 64 and ":" not in seed


async def test_underage_is_refused(client: TestClientProtocol) -> None:
    today = utcnow().date()
    almost = today.replace(year=today.year - 18) + timedelta(days=1)
    response = await client.post(
        "/register",
        json={
            "username": "kid",
            "email": "kid@example.com",
            "password": PASSWORD,
            "date_of_birth": almost.isoformat(),
        },
    )
    assert response.status_code == 422
    assert (await error_of(response))["code"] == "underage"


async def test_exactly_eighteen_today_may_register(client: TestClientProtocol) -> None:
    today = utcnow().date()
    born = today.replace(year=today.year - 18) if (today.month, today.day) != (2, 29) else today
    await register(client, "adult", date_of_birth=born.isoformat())


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("username", "ab"),
        ("username", "a" * 33),
        ("username", "bad name"),
        ("username", "jöhn"),
        ("username", 12345),
        ("password", "short"),
        ("password", 12345678),
        ("email", "not-an-email"),
        ("date_of_birth", "1990-02-30"),
        ("date_of_birth", "17/05/1990"),
        ("date_of_birth", 19900517),
        ("phone", "12345"),
    ],
)
async def test_register_validation(client: TestClientProtocol, field: str, value: object) -> None:
    body = {
        "username": "valid_name",
        "email": "valid@example.com",
        "password": PASSWORD,
        "date_of_birth": "1990-05-17",
        field: value,
    }
    response = await client.post("/register", json=body)
    assert response.status_code == 422
    error = await error_of(response)
    assert error["code"] == "validation_error"
    assert any(item["field"] == field for item in error["details"]["fields"]), error


async def test_register_missing_fields(client: TestClientProtocol) -> None:
    response = await client.post("/register", json={"username": "x"})
    assert response.status_code == 422
    fields = {item["field"] for item in (await error_of(response))["details"]["fields"]}
    assert {"email", "password", "date_of_birth"} <= fields


async def test_duplicate_username_or_email_is_409(client: TestClientProtocol) -> None:
    await register(client, "dupe")
    again = await client.post(
        "/register",
        json={
            "username": "dupe",
            "email": "other@example.com",
            "password": PASSWORD,
            "date_of_birth": "1990-05-17",
        },
    )
    assert again.status_code == 409
    same_email = await client.post(
        "/register",
        json={
            "username": "other",
            "email": "DUPE@example.com",
            "password": PASSWORD,
            "date_of_birth": "1990-05-17",
        },
    )
    assert same_email.status_code == 409
    assert (await error_of(same_email))["code"] == "already_registered"


async def test_login_by_username_and_by_email(client: TestClientProtocol) -> None:
    await register(client, "bob")
    by_name = await client.post("/login", json={"username": "bob", "password": PASSWORD})
    assert by_name.status_code == 200
    assert (await by_name.get_json())["user"]["username"] == "bob"
    by_email = await client.post("/login", json={"email": "Bob@Example.com", "password": PASSWORD})
    assert by_email.status_code == 200


async def test_wrong_credentials_look_the_same(client: TestClientProtocol) -> None:
    await register(client, "carol")
    wrong_password = await client.post("/login", json={"username": "carol", "password": "nope1234"})
    no_such_user = await client.post("/login", json={"username": "nobody", "password": "nope1234"})
    assert wrong_password.status_code == no_such_user.status_code == 401
    assert await wrong_password.get_json() == await no_such_user.get_json()
    assert (await error_of(no_such_user))["code"] == "invalid_credentials"


async def test_login_needs_exactly_one_identifier(client: TestClientProtocol) -> None:
    neither = await client.post("/login", json={"password": PASSWORD})
    both = await client.post(
        "/login", json={"username": "a", "email": "a@example.com", "password": PASSWORD}
    )
    assert neither.status_code == both.status_code == 422


async def test_profile_needs_a_valid_bearer(client: TestClientProtocol, settings: Settings) -> None:
    assert (await client.get("/profile")).status_code == 401
    assert (await client.get("/profile", headers={"Authorization": "Basic xyz"})).status_code == 401
    assert (await client.get("/profile", headers=bearer("garbage"))).status_code == 401
    data = await register(client)
    claims = jwt.decode(
        data["access_token"], options={"verify_signature": False}, algorithms=["HS256"]
    )
    assert claims["typ"] == "access" and claims["iss"] and claims["aud"]

    def forge(**changes: object) -> str:
        return jwt.encode({**claims, **changes}, settings.jwt_secret, algorithm="HS256")

    for token in (
        forge(exp=int((utcnow() - timedelta(minutes=5)).timestamp())),
        forge(aud="someone-else"),
        forge(iss="someone-else"),
        forge(typ="refresh"),
        jwt.encode(claims, "another-secret-of-sufficient-length-000000", algorithm="HS256"),
        jwt.encode(claims, NO_KEY, algorithm="none"),
    ):
        response = await client.get("/profile", headers=bearer(token))
        assert response.status_code == 401, token
        assert (await error_of(response))["code"] in {"invalid_token", "token_expired"}
    ok = await client.get("/profile", headers=bearer(data["access_token"]))
    assert ok.status_code == 200


async def test_refresh_rotates_and_reuse_revokes_the_family(client: TestClientProtocol) -> None:
    data = await register(client)
    first = data["refresh_token"]
    rotated = await client.post("/auth/refresh", json={"refresh_token": first})
    assert rotated.status_code == 200
    pair = await rotated.get_json()
    assert pair["refresh_token"] != first
    assert (await client.get("/profile", headers=bearer(pair["access_token"]))).status_code == 200

    reused = await client.post("/auth/refresh", json={"refresh_token": first})
    assert reused.status_code == 401
    assert (await error_of(reused))["code"] == "refresh_token_reused"
    # The whole family is gone: the newest refresh token and its access token too.
    after = await client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert after.status_code == 401
    profile = await client.get("/profile", headers=bearer(pair["access_token"]))
    assert profile.status_code == 401


async def test_refresh_rejects_unknown_tokens(client: TestClientProtocol) -> None:
    response = await client.post("/auth/refresh", json={"refresh_token": "made-up"})
    assert response.status_code == 401
    assert (await error_of(response))["code"] == "invalid_refresh_token"
    assert (await client.post("/auth/refresh", json={})).status_code == 422


async def test_logout_stops_access_and_refresh(client: TestClientProtocol) -> None:
    data = await register(client)
    headers = bearer(data["access_token"])
    assert (await client.post("/auth/logout", headers=headers)).status_code == 204
    assert (await client.get("/profile", headers=headers)).status_code == 401
    refreshed = await client.post("/auth/refresh", json={"refresh_token": data["refresh_token"]})
    assert refreshed.status_code == 401


async def test_other_logins_survive_a_logout(client: TestClientProtocol) -> None:
    data = await register(client, "dave")
    second = await (
        await client.post("/login", json={"username": "dave", "password": PASSWORD})
    ).get_json()
    await client.post("/auth/logout", headers=bearer(data["access_token"]))
    assert (await client.get("/profile", headers=bearer(second["access_token"]))).status_code == 200


async def test_patch_profile_allowed_fields(client: TestClientProtocol) -> None:
    data = await register(client)
    headers = bearer(data["access_token"])
    response = await client.patch(
        "/profile",
        headers=headers,
        json={"email": "New@Example.com", "phone": "+254 112 345 678", "client_seed": "my-seed_1"},
    )
    assert response.status_code == 200
    profile = await response.get_json()
    assert profile["email"] == "new@example.com"
    assert profile["phone"] == "254112345678"
    assert profile["client_seed"] == "my-seed_1"
    assert (await (await client.get("/profile", headers=headers)).get_json()) == profile


@pytest.mark.parametrize(
    "body",
    [
        {"balance": "1000000.00"},
        {"id": 1},
        {"username": "renamed"},
        {"client_seed": "has:colon"},
        {"client_seed": ""},
        {"client_seed": "x" * 65},
        {"email": None},
    ],
)
async def test_patch_profile_refuses_other_fields(
    client: TestClientProtocol, body: dict[str, object]
) -> None:
    data = await register(client)
    headers = bearer(data["access_token"])
    response = await client.patch("/profile", headers=headers, json=body)
    assert response.status_code == 422
    profile = await (await client.get("/profile", headers=headers)).get_json()
    assert profile["balance"] == "0.00"


async def test_patch_profile_email_taken_is_409(client: TestClientProtocol) -> None:
    await register(client, "erin")
    frank = await register(client, "frank")
    response = await client.patch(
        "/profile", headers=bearer(frank["access_token"]), json={"email": "erin@example.com"}
    )
    assert response.status_code == 409


async def test_stream_ticket_is_single_use(client: TestClientProtocol) -> None:
    from gamehub.auth import tickets
    from gamehub.auth.tokens import decode_access_token
    from gamehub.errors import Unauthorized
    from gamehub.runtime import EXTENSION

    data = await register(client)
    response = await client.post("/auth/stream-ticket", headers=bearer(data["access_token"]))
    assert response.status_code == 200
    ticket = await response.get_json()
    assert ticket["expires_in"] <= 60
    rt = client.app.extensions[EXTENSION]
    redeemed = await tickets.redeem(rt.settings.jwt_secret, rt.broker, ticket["ticket"])
    # The ticket names the login it was issued to (its family), as the access token does.
    assert redeemed == decode_access_token(rt.settings, data["access_token"])
    assert redeemed.user_id == data["user"]["id"]
    with pytest.raises(Unauthorized):
        await tickets.redeem(rt.settings.jwt_secret, rt.broker, ticket["ticket"])
    forged = ticket["ticket"].rsplit(".", 1)[0] + ".AAAA"
    with pytest.raises(Unauthorized):
        await tickets.redeem(rt.settings.jwt_secret, rt.broker, forged)
    expired = tickets.issue(rt.settings.jwt_secret, redeemed, 60, now=0)
    with pytest.raises(Unauthorized):
        await tickets.redeem(rt.settings.jwt_secret, rt.broker, expired)
