"""Hostile input gets its JSON 4xx, never a 500, and quickly: bodies that are not UTF-8 or nest
thousands deep, on every operation that takes JSON; ids past bigint's range in paths, bodies,
token claims and WebSocket frames. The real bytes go through the real app.

The corpus at the end takes every operation from the app's URL map (and its OpenAPI document)
against bad encodings, depths, sizes, out-of-range ids and odd digits, asserting status, error
code and a time bound, so an operation added later is covered without editing this file."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
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
# Valid JSON, but no text: a NUL (PostgreSQL cannot store it) and half a surrogate pair (no
# character at all; found by Schemathesis as a 500 on login).
NUL_INSIDE = b'{"username": "a\\u0000b", "password": "secret-pass"}'
LONE_SURROGATE = b'{"username": "\\u008c\\udbb4", "password": "secret-pass", "email": null}'
HOSTILE_BODIES = [
    UNDECODABLE,
    UNDECODABLE_INSIDE,
    DEEP_ARRAYS,
    DEEP_OBJECTS,
    JUST_TOO_DEEP,
    UNCLOSED,
    NUL_INSIDE,
    LONE_SURROGATE,
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
    ids=[
        "undecodable",
        "undecodable-inside",
        "deep-arrays",
        "deep-objects",
        "depth+1",
        "unclosed",
        "nul",
        "lone-surrogate",
    ],
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
        # A whole surrogate pair is a character; an escaped backslash before "u0000" is text.
        ('{"username": "\\ud83d\\ude00", "password": "x"}', 401, "invalid_credentials"),
        ('{"username": "a\\\\u0000", "password": "x"}', 401, "invalid_credentials"),
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


# Frames a client can send that are not a command, each with the error code it gets; the same
# socket answers every one of them and then a good command.
ODD_FRAMES: list[tuple[str, str]] = [
    ("not json", "malformed_json"),
    ('{"op": "unsubscribe", "room_id": 1, "ref": "\\u0000"}', "malformed_json"),
    ('{"op": "unsubscribe", "room_id": 1, "ref": "\\udfff"}', "malformed_json"),
    ("", "malformed_json"),
    ('"a string"', "validation_error"),
    ("null", "validation_error"),
    ("1e999999", "validation_error"),
    ("[]", "validation_error"),
    ('{"op": []}', "unknown_op"),
    ('{"op": {}}', "unknown_op"),
    ('{"op": 5}', "unknown_op"),
    ('{"op": "' + "x" * 10_000 + '"}', "unknown_op"),
    ('{"op": "unsubscribe", "room_id": 1, "ref": 1.5}', "validation_error"),
    ('{"op": "unsubscribe", "room_id": 1, "ref": -1e400}', "validation_error"),
    ('{"op": "unsubscribe", "room_id": 1, "ref": {"a": [1]}}', "validation_error"),
    ('{"op": "unsubscribe", "room_id": 1, "ref": true}', "validation_error"),
    ('{"op": "unsubscribe", "room_id": 1, "ref": "' + "r" * 256 + '"}', "validation_error"),
    ('{"op": "unsubscribe", "room_id": 1, "ref": 9007199254740992}', "validation_error"),
    ('{"op": "subscribe", "room_id": "1"}', "validation_error"),
    ('{"op": "subscribe", "room_id": 1, "last_event_id": 1.5}', "validation_error"),
    ('{"op": "subscribe", "room_id": 1, "last_event_id": "\u00b2"}', "validation_error"),
    ('{"op": "leave", "room_id": true}', "validation_error"),
    ('{"op": "subscribe", "stream": "account", "last_event_id": "\u00b2"}', "validation_error"),
    ('{"op": "subscribe", "stream": "account", "last_event_id": 1e400}', "validation_error"),
    (
        '{"op": "subscribe", "stream": "account", "last_event_id": "9' + "9" * 5000 + '"}',
        "validation_error",
    ),
    ('{"op": "join", "stake": NaN}', "validation_error"),
    ('{"op": "join", "stake": 1e400}', "validation_error"),
    # Read exactly: a float would make these 10.01 and 100.
    ('{"op": "join", "stake": 10.0099999999999999999}', "validation_error"),
    (
        '{"op": "place-bet", "room_id": 1, "bet_type": "survival", "bet_amount": '
        "99.999999999999999999}",
        "validation_error",
    ),
    ('{"op": "join", "stake": 10, "balance": 1}', "validation_error"),
]


async def test_odd_websocket_frames_are_answered_and_the_socket_stays_usable(
    client: TestClientProtocol, caplog: pytest.LogCaptureFixture
) -> None:
    headers = bearer((await register(client))["access_token"])
    async with client.websocket("/ws", headers=headers) as ws:
        for frame, code in ODD_FRAMES:
            started = time.perf_counter()
            await ws.send(frame)
            async with asyncio.timeout(FAST_S * 5):
                reply = json.loads(await ws.receive())
            assert time.perf_counter() - started < FAST_S, frame[:60]
            assert (reply["op"], reply["ok"]) == ("reply", False), (frame[:60], reply)
            assert reply["error"]["code"] == code, (frame[:60], reply)
            assert reply["ref"] is None, frame[:60]  # a ref that cannot be echoed is not
            assert len(json.dumps(reply)) < 2000, frame[:60]
        for ref in ("still", 7, -(2**53 - 1)):
            await ws.send(json.dumps({"op": "unsubscribe", "room_id": 1, "ref": ref}))
            async with asyncio.timeout(FAST_S * 5):
                reply = json.loads(await ws.receive())
            assert (reply["ref"], reply["ok"]) == (ref, True)
    no_unhandled_errors(caplog)


# Integers in query strings as Python's int() or pydantic's lax mode would take them, and
# numbers out of range: each a 422, never a 500 and never quietly read as something else.
ODD_QUERY_INTEGERS = [
    "9" * 5000,
    "9" * 30,
    str(HUGE),
    "-1",
    "%C2%B2",  # ²
    "%D9%A3",  # Arabic-Indic 3
    "%FF",
    "1_000",
    "0x10",
    "%201",  # " 1"
    "1.0",
    "1e3",
    "",
    "%00",
    "-0",
    "+1",
    "NaN",
]
SEED = "a" * 64
QUERY_INTEGERS = [
    "/history?limit=",
    "/history?before=",
    "/transactions?limit=",
    "/transactions?before=",
    f"/fairness/verify?server_seed={SEED}&client_seed=x&game=spin-and-win&nonce=",
]


async def test_odd_integers_in_query_strings_are_422(
    client: TestClientProtocol, caplog: pytest.LogCaptureFixture
) -> None:
    headers = bearer((await register(client))["access_token"])
    for path in QUERY_INTEGERS:
        for value in ODD_QUERY_INTEGERS:
            if path.endswith("nonce=") and value == "-0":
                continue  # checked below: a nonce may be 0, but "-0" is not ASCII digits
            response, elapsed = await timed(client.get(path + value, headers=headers))
            await assert_refused(response, elapsed, 422, "validation_error", (path, value[:20]))
    response = await client.get(QUERY_INTEGERS[-1] + "-0", headers=headers)
    assert response.status_code == 422
    # Plain digits still work, at the edges of their ranges.
    for path, value in (
        ("/history?before=", str(MAX_ID)),
        ("/transactions?before=", str(MAX_ID)),
        ("/history?limit=", "100"),
        (QUERY_INTEGERS[-1], "0"),
        (QUERY_INTEGERS[-1], str(MAX_ID)),
    ):
        response = await client.get(path + value, headers=headers)
        assert response.status_code == 200, (path, await response.get_data(as_text=True))
    no_unhandled_errors(caplog)


@pytest.mark.parametrize("kind", ["cool_off", "self_exclusion"])
async def test_pause_days_out_of_range_or_not_an_integer_are_422_and_change_nothing(
    client: TestClientProtocol, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    headers = {
        "Content-Type": "application/json",
        **bearer((await register(client))["access_token"]),
    }
    for days in ["true", "1.5", "1.0", '"30"', "0", "-1", "1826", "9" * 30, "1e400", "NaN", "[]"]:
        raw = f'{{"kind": "{kind}", "days": {days}}}'
        response, elapsed = await timed(
            client.post("/responsible-play/pause", data=raw, headers=headers)
        )
        await assert_refused(response, elapsed, 422, "validation_error", days[:20])
    state = await (await client.get("/responsible-play", headers=headers)).get_json()
    assert state["paused"] is False
    no_unhandled_errors(caplog)


# ---- The corpus: every HTTP operation the app serves, from its URL map, against every kind of
# hostile input, each answered with its status and error code within a time bound.

# Streams answer with an open event stream, not a reply: their hostile inputs (ids in paths,
# Last-Event-ID) are covered above and in tests/rooms/test_room_streams.py and
# tests/test_userstream.py; only their ids in paths are in the corpus (a 404 comes first).
STREAMS = {"/games/rooms/<int:room_id>/events", "/games/lobby/events", "/events", "/events/connect"}
# Logouts end the login the corpus uses; they take no body (tests/auth and
# tests/admin/test_operator_logout.py cover them).
NOT_IN_BODY_CORPUS = STREAMS | {"/auth/logout", "/admin/logout", "/static/<path:filename>"}
CALLBACK_PREFIX = "/payments/callbacks/"
# The built-in sandbox's Daraja API reads JSON bodies; its control endpoints read none.
DARAJA_API_PREFIX = "/sandbox/daraja/mpesa/"
OVERSIZED = b'{"a": "' + b"x" * (1024 * 1024) + b'"}'
MANY_VALUES = b"[" + b"0," * 100_000 + b"0]"
BODY_CORPUS: list[tuple[str, bytes]] = [
    ("undecodable", UNDECODABLE),
    ("undecodable-inside", UNDECODABLE_INSIDE),
    ("deep-arrays", DEEP_ARRAYS),
    ("deep-objects", DEEP_OBJECTS),
    ("depth+1", JUST_TOO_DEEP),
    ("unclosed", UNCLOSED),
    ("nul", NUL_INSIDE),
    ("lone-surrogate", LONE_SURROGATE),
    ("many-values", MANY_VALUES),
    ("oversized", OVERSIZED),
]
# What a JSON operation answers to each (status, code).
JSON_REFUSAL = {
    "many-values": (413, "payload_too_large"),
    "oversized": (413, "payload_too_large"),
}
ODD_PATH_IDS = [str(HUGE), str(HUGER), "9" * 5000, "0", "-1", "%D9%A3", "%C2%B2", "1.0", "0x1"]


def operations(app: Quart) -> list[tuple[str, str]]:
    """Every (method, rule) the app serves over HTTP, HEAD and OPTIONS aside."""
    found = []
    for rule in app.url_map.iter_rules():
        if getattr(rule, "websocket", False):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((method, rule.rule))
    return sorted(found)


_PARAMETER = re.compile(r"<(?:(\w+):)?(\w+)>")


def concrete(rule: str, id_value: str = "1") -> str:
    """A path for `rule`: `id_value` for every id (`<int:...>`), the callback secret the test
    app uses, and a plain name for any other parameter."""

    def value(found: re.Match[str]) -> str:
        converter, name = found.groups()
        if converter == "int":
            return id_value
        return "test-callback-secret" if name == "secret" else "x1"

    return _PARAMETER.sub(value, rule)


def test_the_corpus_knows_every_path_parameter(app: Quart) -> None:
    for _method, rule in operations(app):
        if rule in NOT_IN_BODY_CORPUS:
            continue
        assert "<" not in concrete(rule), rule


async def _credentials(app: Quart, client: TestClientProtocol) -> Callable[[str], dict[str, str]]:
    """The bearer header each path takes: an operator's under /admin (a player's token is
    refused there before the body is read), a player's elsewhere."""
    player = bearer((await register(client))["access_token"])
    staff = (await operator(client, app.extensions[EXTENSION])).headers
    return lambda path: staff if path.startswith("/admin/") else player


async def test_every_operation_refuses_every_hostile_body(
    app: Quart, caplog: pytest.LogCaptureFixture
) -> None:
    """JSON operations answer 400 `malformed_json` or 413 `payload_too_large`; callbacks
    acknowledge; the sandbox's Daraja API answers as Daraja does (400); operations without a
    body ignore it. None answers 5xx, each within the time bound."""
    client = app.test_client()
    credentials = await _credentials(app, client)
    takes_json = json_operations(app)
    for method, rule in operations(app):
        if rule in NOT_IN_BODY_CORPUS:
            continue
        path = concrete(rule)
        for name, body in BODY_CORPUS:
            headers = {
                "Content-Type": "application/json",
                "Idempotency-Key": f"corpus-{name}",
                **credentials(rule),
            }
            response, elapsed = await timed(
                getattr(client, method.lower())(path, data=body, headers=headers)
            )
            what = (method, rule, name)
            status = response.status_code
            assert status < 500, (what, await response.get_data(as_text=True))
            # A 1 MiB body costs reading it; the rest cost milliseconds.
            assert elapsed < FAST_S * (2 if name == "oversized" else 1), (what, elapsed)
            if (method, rule) in takes_json:
                expected = JSON_REFUSAL.get(name, (400, "malformed_json"))
                assert (status, (await error_of(response))["code"]) == expected, what
            elif rule.startswith(CALLBACK_PREFIX) and name == "oversized":
                # Past the 1 MiB limit the server reads no further: the contract's 413.
                assert (status, (await error_of(response))["code"]) == (413, "payload_too_large")
            elif rule.startswith(CALLBACK_PREFIX):
                assert (status, await response.get_json()) == (
                    200,
                    {"ResultCode": 0, "ResultDesc": "Accepted"},
                ), what
            elif rule.startswith(DARAJA_API_PREFIX):
                assert status in {400, 401, 413}, what  # as Daraja: bad body, no token
    no_unhandled_errors(caplog)


async def test_every_path_id_out_of_range_is_404_on_every_operation(
    app: Quart, caplog: pytest.LogCaptureFixture
) -> None:
    client = app.test_client()
    headers = bearer((await register(client))["access_token"])
    with_ids = [(m, r) for m, r in operations(app) if "<int:" in r]
    assert len(with_ids) >= 3  # rooms, a room's events, transactions
    for method, rule in with_ids:
        for value in ODD_PATH_IDS:
            response, elapsed = await timed(
                getattr(client, method.lower())(concrete(rule, value), headers=headers)
            )
            await assert_refused(response, elapsed, 404, "not_found", (rule, value[:20]))
    no_unhandled_errors(caplog)


async def test_every_integer_in_a_query_string_refuses_odd_digits(
    app: Quart, client: TestClientProtocol, caplog: pytest.LogCaptureFixture
) -> None:
    """From the OpenAPI document: each operation's integer query parameters, each odd value a
    422 (the other parameters valid)."""
    credentials = await _credentials(app, client)
    spec = await (await client.get("/openapi.json")).get_json()
    valid = {
        "server_seed": SEED,
        "client_seed": "x",
        "game": "spin-and-win",
        "nonce": "0",
        "query": "someone",  # /admin/users
    }
    checked = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            params = [p for p in operation.get("parameters", []) if p["in"] == "query"]
            required = {p["name"]: valid[p["name"]] for p in params if p.get("required")}
            for param in params:
                if param["schema"].get("type") != "integer" and not any(
                    option.get("type") == "integer" for option in param["schema"].get("anyOf", [])
                ):
                    continue
                checked.append((path, param["name"]))
                for value in ODD_QUERY_INTEGERS:
                    query = "&".join(
                        f"{name}={val}" for name, val in {**required, param["name"]: value}.items()
                    )
                    response, elapsed = await timed(
                        getattr(client, method)(f"{path}?{query}", headers=credentials(path))
                    )
                    await assert_refused(
                        response,
                        elapsed,
                        422,
                        "validation_error",
                        (path, param["name"], value[:20]),
                    )
    assert len(checked) >= 5, checked  # history and transactions limit/before, verify's nonce
    no_unhandled_errors(caplog)


async def test_every_operation_without_credentials_is_401_or_its_public_answer(
    app: Quart, caplog: pytest.LogCaptureFixture
) -> None:
    client = app.test_client()
    for method, rule in operations(app):
        if rule in STREAMS or rule == "/static/<path:filename>":
            continue
        response, elapsed = await timed(
            getattr(client, method.lower())(
                concrete(rule), headers={"Authorization": "Bearer \u00b2\xff not.a.token"}
            )
        )
        assert response.status_code < 500, (method, rule)
        assert elapsed < FAST_S, (method, rule, elapsed)
    no_unhandled_errors(caplog)
