"""A JSON body is bounded before validation does real work: at most MAX_VALUES values (object
members and array items, counted over the whole document) else 413, and a 422 lists at most
MAX_ERRORS problems. Measured on a loaded 2-core machine over real HTTP (the test's app under
Hypercorn, the client in the same process and event loop), a 100 000-key object (800 KB) on
`POST /register`:

- before: 422 after 0.7-3.2 s with an 8 400 361-byte list of errors; `/healthz` took 16-17 s
  while 8 of them arrived at once (validating them and shipping 67 MB of errors);
- after: 413 `payload_too_large` after 0.03-0.08 s with 127 bytes; `/healthz` took 0.08-0.18 s
  with 8 at once.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import string
import time
from pathlib import Path
from typing import Any

import httpx
from hypercorn.config import Config
from quart import Quart
from quart.typing import TestClientProtocol

from gamehub.errors import MAX_ERRORS
from gamehub.jsonio import MAX_VALUES
from gamehub.settings import Settings
from tests.helpers import bearer, error_of, register
from tests.live import live_server

JSON = {"Content-Type": "application/json"}
FAST_S = 1.0  # generous for a loaded machine: a refusal costs milliseconds
HEALTHZ_BOUND_S = 2.0


def many_keys(count: int) -> bytes:
    """An object of `count` members with 3-letter names, 8 bytes each: 100 000 fit in 800 KB."""
    names = ("".join(letters) for letters in itertools.product(string.ascii_letters, repeat=3))
    return ("{" + ",".join(f'"{name}":0' for name in itertools.islice(names, count)) + "}").encode()


HUNDRED_THOUSAND_KEYS = many_keys(100_000)


async def timed(call: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    response = await call
    return response, time.perf_counter() - started


async def test_a_hundred_thousand_keys_are_refused_cheaply(client: TestClientProtocol) -> None:
    response, elapsed = await timed(
        client.post("/register", data=HUNDRED_THOUSAND_KEYS, headers=JSON)
    )
    assert response.status_code == 413, await response.get_data(as_text=True)
    assert (await error_of(response))["code"] == "payload_too_large"
    assert len(await response.get_data()) < 1000
    assert elapsed < FAST_S, elapsed


async def test_the_value_bound_counts_members_and_items_over_the_whole_body(
    client: TestClientProtocol,
) -> None:
    """MAX_VALUES values in all are read and validated as usual; one more is a 413, wherever
    it sits. Commas and brackets inside strings count for nothing."""
    # The body's own two members, the array's items, and one nested member each side.
    items = ",".join(["1"] * (MAX_VALUES - 4))
    at_bound = '{"username": [' + items + ', {"a": 1}], "password": "x"}'
    over = '{"username": [' + items + ', {"a": 1, "b": 2}], "password": "x"}'
    commas = '{"username": "' + "[" * 50 + '", "password": "' + "," * 1000 + '"}'
    for raw, status, code in (
        (at_bound, 422, "validation_error"),
        (over, 413, "payload_too_large"),
        (commas, 401, "invalid_credentials"),
    ):
        response, elapsed = await timed(client.post("/login", data=raw, headers=JSON))
        assert response.status_code == status, (raw[:30], await response.get_data(as_text=True))
        assert (await error_of(response))["code"] == code
        assert elapsed < FAST_S, elapsed


async def test_a_422_names_at_most_max_errors_problems(client: TestClientProtocol) -> None:
    """500 unknown members (under the value bound) are 500 problems: the answer names
    MAX_ERRORS of them and says how many more there were."""
    body = many_keys(500)
    response, elapsed = await timed(client.post("/register", data=body, headers=JSON))
    error = await error_of(response)
    assert (response.status_code, error["code"]) == (422, "validation_error")
    # The four missing required fields and the 500 unknown ones.
    assert len(error["details"]["fields"]) == MAX_ERRORS
    assert error["details"]["more"] == 504 - MAX_ERRORS
    assert len(await response.get_data()) < 5000
    assert elapsed < FAST_S, elapsed


async def test_a_websocket_frame_of_too_many_values_is_answered_and_the_socket_lives(
    client: TestClientProtocol,
) -> None:
    headers = bearer((await register(client))["access_token"])
    async with client.websocket("/ws", headers=headers) as ws:
        await ws.send(HUNDRED_THOUSAND_KEYS.decode())
        async with asyncio.timeout(5):
            reply = json.loads(await ws.receive())
        assert (reply["ok"], reply["error"]["code"]) == (False, "payload_too_large")
        await ws.send(json.dumps({"op": "unsubscribe", "room_id": 1, "ref": "still"}))
        async with asyncio.timeout(5):
            reply = json.loads(await ws.receive())
        assert (reply["ref"], reply["ok"]) == ("still", True)


async def test_healthz_stays_fast_while_eight_huge_bodies_arrive(app: Quart) -> None:
    """Over real HTTP: the server, and this client, share one event loop, so time the bodies
    spend on the CPU shows in /healthz. HEALTHZ_BOUND_S is generous for a loaded machine;
    before the bound it took 16-17 s here."""
    async with (
        live_server(app) as base,
        httpx.AsyncClient(base_url=base, timeout=60) as http,
    ):

        async def healthz() -> float:
            await asyncio.sleep(0.1)  # the bodies are on their way
            started = time.perf_counter()
            response = await http.get("/healthz")
            assert response.status_code == 200
            return time.perf_counter() - started

        async def huge() -> httpx.Response:
            return await http.post("/register", content=HUNDRED_THOUSAND_KEYS, headers=JSON)

        bodies = asyncio.gather(*(huge() for _ in range(8)))
        took, responses = await asyncio.gather(healthz(), bodies)
        assert [r.status_code for r in responses] == [413] * 8
        assert took < HEALTHZ_BOUND_S, took


def test_served_websocket_frames_are_bounded_as_bodies_are() -> None:
    """`gamehub serve` reads hypercorn.toml: a frame past the body limit is refused by the
    server before the app reads it."""
    config = Config.from_toml(str(Path(__file__).parents[1] / "hypercorn.toml"))
    assert config.websocket_max_message_size == Settings().max_body_bytes == 1024 * 1024
