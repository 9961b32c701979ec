"""Operator sign-out (POST /admin/logout): the operator's login is a token family as a player's
is, so signing out revokes it as a player's logout does, and its token stops working at once."""

from __future__ import annotations

from quart import Quart
from sqlalchemy import select

from gamehub.models import AuditEntry, TokenFamily
from gamehub.runtime import EXTENSION, Runtime
from tests.admin.operators import admin_login, forget_last_step, operator
from tests.helpers import bearer, error_of, register


def _runtime(app: Quart) -> Runtime:
    runtime: Runtime = app.extensions[EXTENSION]
    return runtime


async def test_signing_out_ends_the_operator_token_at_once(app: Quart) -> None:
    runtime = _runtime(app)
    client = app.test_client()
    staff = await operator(client, runtime)
    # A second sign-in is a second login: signing one out leaves the other working.
    again = await admin_login(client, staff.username, staff.secret)
    assert again.status_code == 200, await again.get_data(as_text=True)
    other = bearer((await again.get_json())["access_token"])
    await forget_last_step(runtime, staff.user_id)

    assert (await client.get("/admin/users?query=a", headers=staff.headers)).status_code == 200
    out = await client.post("/admin/logout", headers=staff.headers)
    assert out.status_code == 204, await out.get_data(as_text=True)
    assert await out.get_data() == b""

    for path in ("/admin/users?query=a", "/admin/reports/house", "/admin/audit"):
        refused = await client.get(path, headers=staff.headers)
        assert refused.status_code == 401, path
        assert (await error_of(refused))["code"] == "session_revoked", path
    again_out = await client.post("/admin/logout", headers=staff.headers)
    assert again_out.status_code == 401
    assert (await error_of(again_out))["code"] == "session_revoked"
    assert (await client.get("/admin/users?query=a", headers=other)).status_code == 200

    async with runtime.sessions() as session:
        families = (
            await session.execute(
                select(TokenFamily.revoked_at, TokenFamily.revoked_reason).where(
                    TokenFamily.user_id == staff.user_id
                )
            )
        ).all()
        entries = list(
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "operator.signed_out")
                .where(AuditEntry.subject == f"user:{staff.user_id}")
            )
        )
    # Registration's player login, and the two sign-ins: only the one signed out ended.
    assert sorted(reason or "" for _, reason in families) == ["", "", "logout"]
    assert len(entries) == 1
    assert entries[0].actor == f"operator:{staff.user_id}"


async def test_sign_out_refuses_a_player_token_and_no_token(app: Quart) -> None:
    runtime = _runtime(app)
    client = app.test_client()
    staff = await operator(client, runtime)
    player = await register(client)

    as_player = await client.post("/admin/logout", headers=bearer(player["access_token"]))
    assert as_player.status_code == 403
    assert (await error_of(as_player))["code"] == "operator_token_required"
    anonymous = await client.post("/admin/logout")
    assert anonymous.status_code == 401
    # The player's own login is untouched, and so is the operator's.
    assert (await client.get("/profile", headers=bearer(player["access_token"]))).status_code == 200
    assert (await client.get("/admin/users?query=a", headers=staff.headers)).status_code == 200
