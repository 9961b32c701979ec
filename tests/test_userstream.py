"""The user's own SSE stream over real HTTP: tickets, snapshot, live wallet events, exact replay."""

from __future__ import annotations

import asyncio

import httpx
from httpx_sse import ServerSentEvent, aconnect_sse
from quart import Quart

from gamehub.runtime import EXTENSION, Runtime
from gamehub.userstream import publish_wallet
from tests.helpers import bearer, register
from tests.live import live_server


async def _ticket(http: httpx.AsyncClient, token: str) -> str:
    response = await http.post("/auth/stream-ticket", headers=bearer(token))
    assert response.status_code == 200
    ticket: str = response.json()["ticket"]
    return ticket


async def _read(
    http: httpx.AsyncClient, url: str, count: int, **kwargs: object
) -> list[ServerSentEvent]:
    events: list[ServerSentEvent] = []
    async with aconnect_sse(http, "GET", url, **kwargs) as source:
        assert source.response.headers["content-type"].startswith("text/event-stream")
        async for event in source.aiter_sse():
            if not event.data:
                # A block with no data (our leading `retry:`) dispatches nothing in a browser.
                assert event.retry == 2000 or event.retry is None
                continue
            events.append(event)
            if len(events) == count:
                break
    return events


async def test_user_stream_snapshot_live_and_replay(app: Quart) -> None:
    runtime: Runtime = app.extensions[EXTENSION]
    async with live_server(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as http:
        data = (
            await http.post(
                "/register",
                json={
                    "username": "streamer",
                    "email": "s@example.com",
                    "password": "long enough pw",
                    "date_of_birth": "1990-01-01",
                },
            )
        ).json()
        token, user_id = data["access_token"], data["user"]["id"]

        async def publish_later() -> None:
            await asyncio.sleep(0.3)
            for _ in range(3):
                await publish_wallet(runtime.broker, runtime.sessions, user_id)

        publisher = asyncio.create_task(publish_later())
        first = await _read(http, f"/events?ticket={await _ticket(http, token)}", 4)
        await publisher
        assert first[0].event == "snapshot" and first[0].id == "0"
        assert first[0].json()["wallet"]["balance"] == "0.00"
        assert [(e.event, e.id) for e in first[1:]] == [
            ("wallet", "1"),
            ("wallet", "2"),
            ("wallet", "3"),
        ]
        assert first[1].json()["wallet"] == {
            "balance": "0.00",
            "held": "0.00",
            "available": "0.00",
            "currency": "KES",
        }

        # Missed while away: 4 and 5. Reconnecting from 3 gets exactly those, then live ones.
        await publish_wallet(runtime.broker, runtime.sessions, user_id)
        await publish_wallet(runtime.broker, runtime.sessions, user_id)
        replay = await _read(
            http,
            f"/events?ticket={await _ticket(http, token)}",
            2,
            headers={"Last-Event-ID": "3"},
        )
        assert [e.id for e in replay] == ["4", "5"]
        # With the bearer header instead of a ticket, and the query form of Last-Event-ID.
        again = await _read(http, "/events/connect?last_event_id=4", 1, headers=bearer(token))
        assert [e.id for e in again] == ["5"]


async def test_streams_need_a_valid_single_use_ticket(app: Quart) -> None:
    async with live_server(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as http:
        assert (await http.get("/events")).status_code == 401
        assert (await http.get("/events?ticket=forged")).status_code == 401
        data = await register(app.test_client())
        ticket = await _ticket(http, data["access_token"])
        async with http.stream("GET", f"/events?ticket={ticket}") as response:
            assert response.status_code == 200
            first_line = await response.aiter_lines().__anext__()
            assert first_line == "retry: 2000"
        assert (await http.get(f"/events?ticket={ticket}")).status_code == 401
