"""Helpers of the back-office tests: operators made as `gamehub admin create` makes them, and
signed in with a real TOTP code."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlparse

from quart.typing import TestClientProtocol
from sqlalchemy import update

from gamehub.admin import accounts, totp
from gamehub.db import transaction
from gamehub.models import Operator
from gamehub.runtime import Runtime
from tests.helpers import PASSWORD, bearer, register


@dataclass
class SignedIn:
    user_id: int
    username: str
    secret: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)


def secret_of(uri: str) -> str:
    return parse_qs(urlparse(uri).query)["secret"][0]


def code_now(secret: str) -> str:
    return totp.code_at(secret, time.time())


async def forget_last_step(runtime: Runtime, user_id: int) -> None:
    """Let the same 30 s step sign in again (tests sign several operators in quickly)."""
    async with transaction(runtime.sessions) as session:
        await session.execute(
            update(Operator).where(Operator.user_id == user_id).values(last_totp_step=None)
        )


async def admin_login(client: TestClientProtocol, username: str, secret: str) -> Any:
    return await client.post(
        "/admin/login",
        json={"username": username, "password": PASSWORD, "totp": code_now(secret)},
    )


async def operator(client: TestClientProtocol, runtime: Runtime) -> SignedIn:
    """A new account made an operator and signed in to /admin."""
    player = await register(client)
    username = player["user"]["username"]
    made = await accounts.make_operator(runtime.sessions, username)
    secret = secret_of(made.otpauth_uri)
    response = await admin_login(client, username, secret)
    assert response.status_code == 200, await response.get_data(as_text=True)
    await forget_last_step(runtime, made.user_id)
    body = await response.get_json()
    return SignedIn(made.user_id, username, secret, body["access_token"])
