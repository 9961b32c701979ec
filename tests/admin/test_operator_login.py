"""Operator accounts (gamehub/admin): `gamehub admin create`, sign-in with password and TOTP,
and the wall between operator tokens and player tokens in both directions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import jwt
from quart import Quart
from sqlalchemy import select

from gamehub.admin import accounts, totp
from gamehub.models import AuditEntry
from gamehub.runtime import EXTENSION, Runtime
from tests.admin.operators import admin_login, code_now, operator, secret_of
from tests.conftest import TEST_JWT_SECRET
from tests.helpers import PASSWORD, bearer, error_of, register


def _runtime(app: Quart) -> Runtime:
    runtime: Runtime = app.extensions[EXTENSION]
    return runtime


async def test_admin_create_prints_an_otpauth_uri_for_an_existing_account(app: Quart) -> None:
    runtime = _runtime(app)
    client = app.test_client()
    player = await register(client)
    name = player["user"]["username"]
    environment = {
        **os.environ,
        "GAMEHUB_DATABASE_URL": runtime.settings.database_url,
        "GAMEHUB_JWT_SECRET": TEST_JWT_SECRET,
    }
    done = subprocess.run(
        [sys.executable, "-m", "gamehub.cli", "admin", "create", name],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    uri = done.stdout.strip()
    assert uri.startswith("otpauth://totp/"), uri
    assert "issuer=Game%20Hub" in uri
    assert "digits=6" in uri or "digits" not in uri  # 6 is the default pyotp leaves out
    secret = secret_of(uri)
    response = await admin_login(client, name, secret)
    assert response.status_code == 200, await response.get_data(as_text=True)
    body = await response.get_json()
    assert body["scope"] == "admin"
    assert body["expires_in"] == runtime.settings.admin_token_ttl_s
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["scope"] == "admin"
    assert claims["exp"] - claims["iat"] == runtime.settings.admin_token_ttl_s

    unknown = subprocess.run(
        [sys.executable, "-m", "gamehub.cli", "admin", "create", "nobody_here"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
    )
    assert unknown.returncode == 1
    assert "no account named" in unknown.stderr


async def test_sign_in_refuses_a_wrong_password_a_wrong_code_and_a_missing_code(
    app: Quart,
) -> None:
    runtime = _runtime(app)
    client = app.test_client()
    player = await register(client)
    name = player["user"]["username"]
    secret = secret_of((await accounts.make_operator(runtime.sessions, name)).otpauth_uri)

    wrong_password = await client.post(
        "/admin/login", json={"username": name, "password": "not it at all", "totp": "000000"}
    )
    assert wrong_password.status_code == 401
    assert (await error_of(wrong_password))["code"] == "invalid_credentials"

    right = code_now(secret)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    wrong_code = await client.post(
        "/admin/login", json={"username": name, "password": PASSWORD, "totp": wrong}
    )
    assert wrong_code.status_code == 401
    assert (await error_of(wrong_code))["code"] == "invalid_totp"

    for body in (
        {"username": name, "password": PASSWORD},
        {"username": name, "password": PASSWORD, "totp": ""},
        {"username": name, "password": PASSWORD, "totp": "12345"},
        {"username": name, "password": PASSWORD, "totp": 123456},
    ):
        missing = await client.post("/admin/login", json=body)
        assert missing.status_code == 422, body
        assert (await error_of(missing))["code"] == "validation_error"

    # A code from two steps ago is outside the drift allowed.
    stale = totp.code_at(secret, time.time() - 2 * totp.STEP_S)
    if stale != right:
        old = await client.post(
            "/admin/login", json={"username": name, "password": PASSWORD, "totp": stale}
        )
        assert old.status_code == 401


async def test_a_code_signs_in_once(app: Quart) -> None:
    runtime = _runtime(app)
    client = app.test_client()
    player = await register(client)
    name = player["user"]["username"]
    secret = secret_of((await accounts.make_operator(runtime.sessions, name)).otpauth_uri)
    code = code_now(secret)
    body = {"username": name, "password": PASSWORD, "totp": code}
    first = await client.post("/admin/login", json=body)
    if first.status_code == 401:  # the step turned between reading the code and checking it
        body["totp"] = code_now(secret)
        first = await client.post("/admin/login", json=body)
    assert first.status_code == 200, await first.get_data(as_text=True)
    replayed = await client.post("/admin/login", json=body)
    assert replayed.status_code == 401
    assert (await error_of(replayed))["code"] == "totp_reused"
    async with runtime.sessions() as session:
        refusals = (
            await session.scalars(
                select(AuditEntry.details).where(AuditEntry.action == "operator.sign_in_refused")
            )
        ).all()
    # The right password with a spent code is worth an operator's attention.
    assert {"reason": "totp_reused"} in refusals


async def test_a_player_is_not_an_operator(app: Quart) -> None:
    client = app.test_client()
    player = await register(client)
    name = player["user"]["username"]
    response = await client.post(
        "/admin/login", json={"username": name, "password": PASSWORD, "totp": "123456"}
    )
    assert response.status_code == 401
    # The very same answer as a wrong password: being an operator is not disclosed.
    assert (await error_of(response))["code"] == "invalid_credentials"


async def test_player_tokens_never_reach_admin_and_operator_tokens_never_play(app: Quart) -> None:
    runtime = _runtime(app)
    client = app.test_client()
    staff = await operator(client, runtime)
    player = await register(client)

    for headers, status, code in (
        ({}, 401, "unauthenticated"),
        (bearer("not-a-token"), 401, "invalid_token"),
        (bearer(player["access_token"]), 403, "operator_token_required"),
    ):
        refused = await client.get("/admin/users?query=a", headers=headers)
        assert refused.status_code == status, await refused.get_data(as_text=True)
        assert (await error_of(refused))["code"] == code

    # The operator's token opens /admin ...
    allowed = await client.get("/admin/users?query=a", headers=staff.headers)
    assert allowed.status_code == 200, await allowed.get_data(as_text=True)
    # ... and nothing else: every endpoint a player uses refuses it.
    for method, path, body in (
        ("GET", "/profile", None),
        ("GET", "/wallet", None),
        ("GET", "/transactions", None),
        ("POST", "/games/spin-and-win/play", {"bet_amount": "10.00"}),
        ("POST", "/games/join", {"stake": "10.00"}),
        ("POST", "/games/place-bet", {"room_id": 1, "bet_amount": "10", "bet_type": "survival"}),
        ("POST", "/games/pull-trigger", {"room_id": 1}),
        ("POST", "/deposit", {"amount": "100", "phone": "254712345678"}),
        ("POST", "/withdraw", {"amount": "100", "phone": "254712345678"}),
        ("POST", "/auth/stream-ticket", None),
        ("POST", "/auth/logout", None),
        ("GET", "/events", None),
        ("GET", "/responsible-play", None),
        ("GET", "/fairness", None),
    ):
        response = await client.open(path, method=method, json=body, headers=staff.headers)
        assert response.status_code == 401, (path, await response.get_data(as_text=True))
        assert (await error_of(response))["code"] == "invalid_token", path
    # A WebSocket opened with it is told why and closed before it can send a command.
    async with client.websocket("/ws", headers=staff.headers) as socket:
        refused_socket = json.loads(await socket.receive())
    assert refused_socket["op"] == "error"
    assert refused_socket["error"]["code"] == "invalid_token"


async def test_an_operator_removed_or_suspended_loses_access_at_once(app: Quart) -> None:
    runtime = _runtime(app)
    client = app.test_client()
    staff = await operator(client, runtime)
    from sqlalchemy import delete

    from gamehub.db import transaction
    from gamehub.models import Operator

    async with transaction(runtime.sessions) as session:
        await session.execute(delete(Operator).where(Operator.user_id == staff.user_id))
    refused = await client.get("/admin/users?query=a", headers=staff.headers)
    assert refused.status_code == 401
    assert (await error_of(refused))["code"] == "session_revoked"
