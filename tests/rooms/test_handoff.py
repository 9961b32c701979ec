"""SSE streams written outside Quart (gamehub/rooms/handoff.py), over real HTTP: the same errors,
headers, replay and keep-alives as a Quart response, and nothing left behind by a listener."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

import httpx
from httpx_sse import aconnect_sse
from quart import Quart

from gamehub.app import create_app
from gamehub.rooms.broker import Subscription
from gamehub.rooms.heartbeat import SLICES, Heartbeat
from gamehub.runtime import EXTENSION, Runtime
from gamehub.settings import Settings
from gamehub.userstream import channel, publish_wallet
from tests.backends import Backend, clean_services
from tests.helpers import bearer, register
from tests.live import live_server


async def _ticket(http: httpx.AsyncClient, token: str) -> str:
    response = await http.post("/auth/stream-ticket", headers=bearer(token))
    assert response.status_code == 200
    ticket: str = response.json()["ticket"]
    return ticket


def _error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["x-request-id"]
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code


def _listeners(runtime: Runtime, name: str) -> int:
    # Both brokers keep this process's subscriptions in the same local fan-out.
    fanout: Any = runtime.broker._fanout  # type: ignore[attr-defined]
    return len(fanout.subscribers.get(name, ()))


async def test_errors_are_the_json_of_the_contract(app: Quart) -> None:
    async with live_server(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as http:
        token = (await register(app.test_client()))["access_token"]
        _error(await http.get("/events"), 401, "unauthenticated")
        _error(await http.get("/events?ticket=1.2.3.forged"), 401, "invalid_ticket")
        _error(await http.get("/games/lobby/events"), 401, "unauthenticated")
        missing = f"/games/rooms/999999/events?ticket={await _ticket(http, token)}"
        _error(await http.get(missing), 404, "room_not_found")
        bad_id = {"Last-Event-ID": "minus one", **bearer(token)}
        _error(await http.get("/events", headers=bad_id), 422, "validation_error")


async def test_stream_headers_replay_and_release(app: Quart) -> None:
    runtime: Runtime = app.extensions[EXTENSION]
    async with live_server(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as http:
        data = await register(app.test_client())
        token, user_id = data["access_token"], data["user"]["id"]
        for _ in range(3):
            await publish_wallet(runtime.broker, runtime.sessions, user_id)
        epoch, _ = await runtime.broker.position(channel(user_id))
        headers = {
            "Last-Event-ID": f"{epoch}-1",
            "X-Request-ID": "handoff-test-1",
            **bearer(token),
        }
        async with aconnect_sse(http, "GET", "/events", headers=headers) as source:
            response = source.response
            assert response.status_code == 200
            assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
            assert response.headers["cache-control"] == "no-cache"
            assert response.headers["x-accel-buffering"] == "no"
            assert response.headers["x-request-id"] == "handoff-test-1"
            assert "content-length" not in response.headers
            events = source.aiter_sse()
            first = await anext(events)
            assert first.retry == 2000 and not first.data
            assert [(await anext(events)).id for _ in range(2)] == [f"{epoch}-2", f"{epoch}-3"]
            await publish_wallet(runtime.broker, runtime.sessions, user_id)
            live = await anext(events)
            assert (live.id, live.event) == (f"{epoch}-4", "wallet")
            assert _listeners(runtime, channel(user_id)) == 1
        # The client left: the writer notices and lets go of its subscription.
        async with asyncio.timeout(10):
            while _listeners(runtime, channel(user_id)):
                await asyncio.sleep(0.05)
        metrics = app.extensions["gamehub_metrics"].render().decode()
        assert 'method="GET",route="/events",status="200"' in metrics


async def test_a_head_of_a_stream_gets_its_head_and_no_body(app: Quart) -> None:
    runtime: Runtime = app.extensions[EXTENSION]
    async with live_server(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as http:
        data = await register(app.test_client())
        token, user_id = data["access_token"], data["user"]["id"]
        response = await http.head("/events", headers=bearer(token))
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert response.content == b""
    # The client left: the writer notices and lets go of its subscription.
    async with asyncio.timeout(10):
        while _listeners(runtime, channel(user_id)):
            await asyncio.sleep(0.05)


async def test_idle_streams_get_keep_alives(settings: Settings, backend: Backend) -> None:
    if backend.name == "services":
        assert backend.redis_url is not None
        await clean_services(settings.database_url, backend.redis_url)
    app = create_app(replace(settings, sse_keepalive_s=0.3))
    async with (
        app.test_app(),
        live_server(app) as base,
        httpx.AsyncClient(base_url=base, timeout=10) as http,
    ):
        token = (await register(app.test_client()))["access_token"]
        url = f"/events?ticket={await _ticket(http, token)}"
        async with http.stream("GET", url) as response:
            lines = response.aiter_lines()
            assert await anext(lines) == "retry: 2000"
            began = time.monotonic()
            seen: list[str] = []
            while seen.count(": keep-alive") < 3:
                seen.append(await anext(lines))
            assert time.monotonic() - began < 5
            assert any(line.startswith("event: snapshot") for line in seen)


async def test_heartbeat_wakes_each_stream_one_interval_after_it_began_waiting() -> None:
    # Not all at once: streams that began waiting at different times are woken at different
    # ticks (one beat for everyone was a burst of thousands of writes in one loop pass).
    loop = asyncio.get_running_loop()
    beat = Heartbeat(0.8, loop)
    began: dict[str, float] = {}
    woken: dict[str, float] = {}

    async def idle(name: str) -> None:
        subscription = Subscription(name)
        began[name] = loop.time()
        beat.join(subscription)
        await subscription.wait()
        woken[name] = loop.time()
        beat.leave(subscription)

    first = asyncio.create_task(idle("first"))
    await asyncio.sleep(0.4)
    second = asyncio.create_task(idle("second"))
    await asyncio.wait_for(asyncio.gather(first, second), 5)
    for name in began:
        silent = woken[name] - began[name]
        assert 0.8 * (SLICES - 1) / SLICES - 0.02 <= silent <= 0.8 + 0.3, (name, silent)
    assert woken["second"] - woken["first"] >= 0.2
    assert beat.waiting == 0


async def test_heartbeat_wakes_only_waiting_subscriptions() -> None:
    beat = Heartbeat(0.05, asyncio.get_running_loop())
    waiting, busy = Subscription("a"), Subscription("b")
    beat.join(waiting)
    woken = asyncio.ensure_future(waiting.wait())
    await asyncio.wait_for(woken, 2)
    assert not waiting.pending  # woken with nothing pending: a keep-alive is due
    beat.leave(waiting)
    await asyncio.sleep(0.1)
    assert beat._timer is None  # nobody waits: the timer stops
    assert busy.waiter is None
