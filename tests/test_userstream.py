"""The user's own SSE stream over real HTTP: tickets, snapshot, live wallet events, exact replay,
a snapshot for any id that cannot be honoured exactly, 422 for one that is not ours."""

from __future__ import annotations

import asyncio

import httpx
from httpx_sse import ServerSentEvent, aconnect_sse
from quart import Quart

from gamehub.runtime import EXTENSION, Runtime
from gamehub.userstream import publish_wallet
from tests.helpers import bearer, register
from tests.live import live_server
from tests.rooms.broker_helpers import lose_everything
from tests.sse import MALFORMED_IDS, Reader, with_last_event_id


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
        # Ids are the broker's epoch for the channel and the offset in it.
        epoch, _, offset = (first[0].id or "").rpartition("-")
        assert first[0].event == "snapshot" and epoch and offset == "0"
        assert first[0].json()["wallet"]["balance"] == "0.00"
        assert [(e.event, e.id) for e in first[1:]] == [
            ("wallet", f"{epoch}-1"),
            ("wallet", f"{epoch}-2"),
            ("wallet", f"{epoch}-3"),
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
            headers={"Last-Event-ID": f"{epoch}-3"},
        )
        assert [e.id for e in replay] == [f"{epoch}-4", f"{epoch}-5"]
        # With the bearer header instead of a ticket, and the query form of Last-Event-ID.
        again = await _read(
            http, f"/events/connect?last_event_id={epoch}-4", 1, headers=bearer(token)
        )
        assert [e.id for e in again] == [f"{epoch}-5"]


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


def _epoch(event_id: str | None) -> str:
    epoch, _, offset = (event_id or "").rpartition("-")
    assert epoch and offset.isascii() and offset.isdigit(), event_id
    return epoch


async def test_ids_the_server_cannot_honour_get_a_snapshot_then_every_later_event(
    app: Quart,
) -> None:
    """Another epoch, ahead of the channel, an id from before epochs, one from before the broker
    lost the channel (Redis restarted empty or flushed): a snapshot as of now, then every event.
    Before epochs, ids were bare offsets and the events after a reset (1, 2, …) were dropped as
    already seen by a client back from 500: a silent stream."""
    runtime: Runtime = app.extensions[EXTENSION]
    data = await register(app.test_client())
    token, user_id = data["access_token"], data["user"]["id"]
    auth = bearer(token)
    for _ in range(3):
        await publish_wallet(runtime.broker, runtime.sessions, user_id)
    async with live_server(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as http:
        first = Reader(http, "/events", auth)
        (snapshot,) = await first.count(1)
        await first.stop()
        epoch = _epoch(snapshot.id)
        assert snapshot.event == "snapshot" and snapshot.id == f"{epoch}-3"

        async def back_with(ids: list[str], head: str, later: list[str]) -> None:
            readers = [Reader(http, "/events", {**auth, "Last-Event-ID": i}) for i in ids]
            for reader in readers:
                (opening,) = await reader.count(1)
                assert (opening.event, opening.id) == ("snapshot", head), reader.last_id
                assert opening.json()["wallet"]["balance"] == "0.00"
            for _ in later:
                await publish_wallet(runtime.broker, runtime.sessions, user_id)
            for reader in readers:
                events = await reader.count(1 + len(later))
                assert [e.id for e in events[1:]] == later
                await reader.stop()

        await back_with(
            ["0stale-2", f"{epoch}-500", "500", "0"], f"{epoch}-3", [f"{epoch}-4", f"{epoch}-5"]
        )
        # A stream that stays open while the broker loses the channel, as a browser keeps it.
        staying = Reader(http, "/events", {**auth, "Last-Event-ID": f"{epoch}-5"}, reconnect=True)
        await asyncio.sleep(0.3)  # opened, nothing missed: nothing sent
        assert staying.events == []
        await lose_everything(runtime.broker)
        await publish_wallet(runtime.broker, runtime.sessions, user_id)  # offset 1 again
        new = _epoch((await staying.count(1))[0].id)
        assert new != epoch
        await back_with([f"{epoch}-5"], f"{new}-1", [f"{new}-2", f"{new}-3"])
        events = await staying.count(3)
        assert [(e.event, e.id) for e in events] == [
            ("snapshot", f"{new}-1"),
            ("wallet", f"{new}-2"),
            ("wallet", f"{new}-3"),
        ]
        assert len(staying.starts) == 2  # its first stream ended at the reset; it came back
        await staying.stop()


async def test_malformed_ids_are_refused_with_422(app: Quart) -> None:
    data = await register(app.test_client())
    auth = bearer(data["access_token"])
    async with live_server(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as http:
        for path in ("/events", "/games/lobby/events"):
            for raw in MALFORMED_IDS:
                header = await http.get(path, headers=with_last_event_id(auth, raw))
                assert header.status_code == 422, (path, raw)
                assert header.json()["error"]["code"] == "validation_error"
                if isinstance(raw, str):
                    query = await http.get(path, params={"last_event_id": raw}, headers=auth)
                    assert query.status_code == 422, (path, raw)
            raw_query = await http.get(f"{path}?last_event_id=%B2", headers=auth)
            assert raw_query.status_code == 422
