"""Hostile input gets its JSON 4xx, never a 500, and quickly: bodies that are not UTF-8 or nest
thousands deep, on every operation that takes JSON; ids past bigint's range in paths, bodies,
token claims and WebSocket frames. The real bytes go through the real app."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from quart import Quart
from quart.typing import TestClientProtocol
from quart_schema.validation import QUART_SCHEMA_REQUEST_ATTRIBUTE

from gamehub.ids import MAX_ID
from gamehub.jsonio import MAX_DEPTH
from gamehub.runtime import EXTENSION
from gamehub.settings import Settings
from tests.admin.operators import operator
from tests.helpers import bearer, error_of, register

# Generous for a loaded machine; a refusal costs milliseconds. Before these fixes a deep body
# was a RecursionError and a traceback, which is also fast: the bound keeps them cheap.
FAST_S = 1.0
HUGE = MAX_ID + 1
HUGER = 10**40

UNDECODABLE = b"\xff\xfe{}"
# Otherwise a valid body, but one byte is not UTF-8: it must not be decoded leniently.
UNDECODABLE_INSIDE = b'{"username": "x\xe9", "password": "secret-pass"}'
DEEP_ARRAYS = b"[" * 10_000 + b"]" * 10_000
DEEP_OBJECTS = b'{"a":' * 10_000 + b"1" + b"}" * 10_000
# Too deep for the bound, shallow enough for the parser: only the bound refuses these.
JUST_TOO_DEEP = b'{"a":' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1)
UNCLOSED = b"[" * 10_000
HOSTILE_BODIES = [
    UNDECODABLE,
    UNDECODABLE_INSIDE,
    DEEP_ARRAYS,
    DEEP_OBJECTS,
    JUST_TOO_DEEP,
    UNCLOSED,
]

# Every operation that takes a JSON body, as the app declares them (so a new one is covered).
EXPECTED_OPERATIONS = {
    ("POST", "/register"),
    ("POST", "/login"),
    ("POST", "/auth/refresh"),
    ("PATCH", "/profile"),
    ("POST", "/deposit"),
    ("POST", "/withdraw"),
    ("POST", "/games/spin-and-win/play"),
    ("POST", "/fairness/rotate"),
    ("POST", "/games/join"),
    ("POST", "/games/place-bet"),
    ("POST", "/games/pull-trigger"),
    ("POST", "/games/leave"),
    ("PUT", "/responsible-play/deposit-limits"),
    ("POST", "/responsible-play/pause"),
    ("POST", "/admin/login"),
    ("POST", "/admin/users/<int:user_id>/suspend"),
    ("POST", "/admin/users/<int:user_id>/reinstate"),
    ("POST", "/admin/adjustments"),
    ("POST", "/admin/adjustments/<int:adjustment_id>/reject"),
    ("POST", "/admin/payments/<int:transaction_id>/resolve"),
}


def json_operations(app: Quart) -> set[tuple[str, str]]:
    found = set()
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if getattr(view, QUART_SCHEMA_REQUEST_ATTRIBUTE, None) is None:
            continue
        for method in rule.methods or ():
            if method in {"POST", "PUT", "PATCH", "DELETE"}:
                found.add((method, rule.rule))
    return found


async def timed(call: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    response = await call
    return response, time.perf_counter() - started


async def assert_refused(
    response: Any, elapsed: float, status: int, code: str, what: object
) -> None:
    assert response.status_code == status, (what, await response.get_data(as_text=True))
    assert (await error_of(response))["code"] == code, what
    assert elapsed < FAST_S, (what, elapsed)


def no_unhandled_errors(caplog: pytest.LogCaptureFixture) -> None:
    tracebacks = [r.getMessage() for r in caplog.records if r.exc_info]
    assert tracebacks == []


async def test_every_json_operation_is_covered(app: Quart) -> None:
    assert json_operations(app) == EXPECTED_OPERATIONS


@pytest.mark.parametrize(
    "body",
    HOSTILE_BODIES,
    ids=["undecodable", "undecodable-inside", "deep-arrays", "deep-objects", "depth+1", "unclosed"],
)
async def test_bad_bodies_are_400_malformed_json_on_every_operation(
    app: Quart, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    client = app.test_client()
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": "hostile-1",
        **bearer((await register(client))["access_token"]),
    }
    # The back office's operations are reached with an operator's token.
    staff = await operator(client, app.extensions[EXTENSION])
    for method, rule in sorted(json_operations(app)):
        path = (
            rule.replace("<int:user_id>", str(staff.user_id))
            .replace("<int:transaction_id>", "1")
            .replace("<int:adjustment_id>", "1")
        )
        sent = {**headers, **staff.headers} if path.startswith("/admin/") else headers
        response, elapsed = await timed(
            getattr(client, method.lower())(path, data=body, headers=sent)
        )
        await assert_refused(response, elapsed, 400, "malformed_json", (method, path))
    no_unhandled_errors(caplog)


async def test_the_depth_bound_refuses_nothing_a_client_sends(client: TestClientProtocol) -> None:
    """Brackets inside strings, MAX_DEPTH deep exactly, and many side by side are still
    parsed, and then answered as usual (wrong credentials; a name that is not a string)."""
    nested = '{"a":' * (MAX_DEPTH - 1) + "1" + "}" * (MAX_DEPTH - 1)
    for raw, status, code in (
        (
            '{"username": "' + "[" * 100 + '", "password": "' + "{" * 100 + '"}',
            401,
            "invalid_credentials",
        ),
        ('{"username": ' + nested + ', "password": "x"}', 422, "validation_error"),
        ('{"username": [' + "[], " * 100 + '[]], "password": "x"}', 422, "validation_error"),
    ):
        response, elapsed = await timed(
            client.post("/login", data=raw, headers={"Content-Type": "application/json"})
        )
        await assert_refused(response, elapsed, status, code, raw[:40])


@pytest.mark.parametrize("path", ["stk", "b2c/result", "b2c/timeout", "b2c/status"])
async def test_callbacks_acknowledge_bodies_they_cannot_read(
    client: TestClientProtocol, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Daraja is always answered "Accepted" (a refusal would only make it stop or retry);
    the body changes nothing (the wallet tests show it with a pending deposit)."""
    for body in HOSTILE_BODIES:
        response, elapsed = await timed(
            client.post(
                f"/payments/callbacks/test-callback-secret/{path}",
                data=body,
                headers={"Content-Type": "application/json"},
            )
        )
        assert response.status_code == 200, body[:20]
        assert await response.get_json() == {"ResultCode": 0, "ResultDesc": "Accepted"}
        assert elapsed < FAST_S, (body[:20], elapsed)
    no_unhandled_errors(caplog)


async def test_ids_past_bigint_in_paths_are_404(
    client: TestClientProtocol, caplog: pytest.LogCaptureFixture
) -> None:
    headers = bearer((await register(client))["access_token"])
    for path in (
        f"/transactions/{HUGE}",
        f"/transactions/{HUGER}",
        "/transactions/" + "9" * 5000,  # past Python's own limit on int() of text
        f"/transactions/{MAX_ID}",  # the largest id there can be: simply not found
        "/transactions/0",
        "/transactions/\u0663",  # an Arabic-Indic 3: a digit to Python, not to a URL
        f"/games/rooms/{HUGE}",
        f"/games/rooms/{HUGER}",
        f"/games/rooms/{HUGE}/events",
        f"/games/rooms/{HUGER}/events",
    ):
        response, elapsed = await timed(client.get(path, headers=headers))
        await assert_refused(response, elapsed, 404, "not_found", path[:40])
    # The largest id there can be reaches the room lookup, which finds none.
    response, elapsed = await timed(client.get(f"/games/rooms/{MAX_ID}", headers=headers))
    await assert_refused(response, elapsed, 404, "room_not_found", MAX_ID)
    no_unhandled_errors(caplog)


@pytest.mark.parametrize("room_id", [HUGE, HUGER, -HUGE, 0, -1])
async def test_ids_past_bigint_in_bodies_are_422(
    client: TestClientProtocol, room_id: int, caplog: pytest.LogCaptureFixture
) -> None:
    headers = {
        "Content-Type": "application/json",
        **bearer((await register(client))["access_token"]),
    }
    for path, body in (
        ("/games/leave", {"room_id": room_id}),
        ("/games/pull-trigger", {"room_id": room_id}),
        ("/games/place-bet", {"room_id": room_id, "bet_amount": 10, "bet_type": "survival"}),
        ("/games/join", {"room_id": room_id, "stake": 10}),
    ):
        # Raw bytes: the id is a JSON integer literal however long.
        raw = json.dumps(body).encode()
        response, elapsed = await timed(client.post(path, data=raw, headers=headers))
        await assert_refused(response, elapsed, 422, "validation_error", path)
        assert "room_id" in json.dumps(await response.get_json())
    no_unhandled_errors(caplog)


def _signed(settings: Settings, sub: object) -> str:
    """An access token as the app issues them, signed with its key, naming `sub`."""
    now = datetime.now(UTC)
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": sub,
        "sid": "f" * 32,
        "typ": "access",
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=5),
    }
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")


@pytest.mark.parametrize("sub", [str(HUGE), str(HUGER), "9" * 5000, "\u00b2", "\u0663", "0"])
async def test_a_signed_token_naming_no_possible_user_is_401(
    settings: Settings, client: TestClientProtocol, sub: str, caplog: pytest.LogCaptureFixture
) -> None:
    response, elapsed = await timed(client.get("/profile", headers=bearer(_signed(settings, sub))))
    await assert_refused(response, elapsed, 401, "invalid_token", sub[:20])
    no_unhandled_errors(caplog)


async def test_a_websocket_frame_with_bad_bytes_or_ids_is_answered_and_the_socket_lives(
    client: TestClientProtocol, caplog: pytest.LogCaptureFixture
) -> None:
    headers = bearer((await register(client))["access_token"])
    frames: list[tuple[str | bytes, str]] = [
        (UNDECODABLE, "malformed_json"),
        (DEEP_ARRAYS.decode(), "malformed_json"),
        (DEEP_OBJECTS.decode(), "malformed_json"),
        (JUST_TOO_DEEP.decode(), "malformed_json"),
    ]
    for op in ("subscribe", "unsubscribe", "join", "place-bet", "pull-trigger", "leave"):
        for room_id in (HUGE, HUGER):
            body = {"op": op, "room_id": room_id, "stake": 10, "bet_amount": 10}
            if op == "place-bet":
                body["bet_type"] = "survival"
            if op in {"subscribe", "unsubscribe", "pull-trigger", "leave"}:
                body = {"op": op, "room_id": room_id}
            frames.append((json.dumps(body), "validation_error"))
    async with client.websocket("/ws", headers=headers) as ws:
        for frame, code in frames:
            started = time.perf_counter()
            await ws.send(frame)
            async with asyncio.timeout(FAST_S * 5):
                reply = json.loads(await ws.receive())
            assert time.perf_counter() - started < FAST_S, str(frame)[:40]
            assert reply["op"] == "reply" and reply["ok"] is False, str(frame)[:40]
            assert reply["error"]["code"] == code, (str(frame)[:40], reply)
        # Still open and still answering.
        await ws.send(json.dumps({"op": "unsubscribe", "room_id": MAX_ID, "ref": "still"}))
        async with asyncio.timeout(FAST_S * 5):
            reply = json.loads(await ws.receive())
        assert (reply["ref"], reply["ok"]) == ("still", True)
    no_unhandled_errors(caplog)
